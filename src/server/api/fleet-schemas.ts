import { z } from '@hono/zod-openapi';

// The fleet documents of the API (`GET /api/v1/fleets`, `GET /api/v1/fleets/{name}`), as zod schemas: the
// OpenAPI document is generated from them and fleets.ts types its builders by them.

const iso = z.string().openapi({ format: 'date-time' });

/** A fleet's name in a path. */
export const FleetNameParam = z
  .string()
  .min(1)
  .max(200)
  .openapi({ param: { name: 'name', in: 'path' }, description: 'a fleet environment of ferry.config.json', example: 'tenants' });

/** One fleet environment of the project, with its database count or why its databases could not be listed. */
export const FleetEntrySchema = z
  .object({
    name: z.string(),
    control: z.string().nullable().openapi({ description: 'the environment holding its ledger; null when the config names none' }),
    databases: z.number().int().nullable().openapi({ description: 'how many databases the fleet has now; null when they could not be resolved' }),
    error: z.string().nullable().openapi({ description: "why the fleet's databases could not be resolved (its query failed, a URL is no PostgreSQL …)" }),
  })
  .openapi('FleetEntry');

/** Every fleet environment of the project. */
export const FleetListSchema = z.object({ fleets: z.array(FleetEntrySchema) }).openapi('FleetList');

/** A run of the fleet ledger. */
export const FleetRunSchema = z
  .object({
    runId: z.number().int(),
    fleet: z.string(),
    command: z.enum(['up', 'down', 'verify', 'contract', 'backfill']),
    fingerprint: z.string().openapi({ description: "the plan's fingerprint: command, options, and each migration's id and checksum" }),
    args: z.record(z.string(), z.unknown()),
    status: z.enum(['running', 'failed', 'done', 'abandoned']),
    waves: z.number().int(),
    currentWave: z.number().int(),
    failureBudget: z.number().int(),
    startedAt: iso,
    startedBy: z.string(),
    finishedAt: iso.nullable(),
  })
  .openapi('FleetRun');

/** One database of the fleet: what it holds now, and its row in the fleet's latest run that included it. */
export const FleetDatabaseSchema = z
  .object({
    target: z.string().openapi({ description: 'the database as the ledger keys it: its URL without password (user, host, port, database)' }),
    version: z.string().nullable().openapi({ description: 'the latest migration with applied steps; null when none' }),
    phase: z.string().nullable(),
    pending: z.number().int().openapi({ description: 'migrations with steps still to apply (contract steps aside)' }),
    drift: z.array(z.string()),
    error: z.string().nullable().openapi({ description: 'why the database could not be read now (E_CONNECT …)' }),
    ledger: z
      .object({
        runId: z.number().int(),
        status: z.string().openapi({ description: 'pending, claimed, done or failed' }),
        lastError: z.string().nullable(),
      })
      .nullable()
      .openapi({ description: 'its row in the latest run that included it; null when no run did' }),
  })
  .openapi('FleetDatabase');

/** `ferry fleet status --json`. */
export const FleetStatusSchema = z
  .object({
    fleet: z.string(),
    control: z.string(),
    run: FleetRunSchema.nullable().openapi({ description: "the fleet's latest run; null before the first" }),
    databases: z.array(FleetDatabaseSchema),
    summary: z.object({
      total: z.number().int(),
      byVersion: z.record(z.string(), z.number().int()).openapi({ description: 'how many databases are at each migration ("(none)": nothing applied)' }),
      failed: z.number().int().openapi({ description: 'unreachable now, or failed in their latest run' }),
      drifted: z.number().int(),
      unreachable: z.number().int(),
    }),
  })
  .openapi('FleetStatus');
