import { createRoute, z } from '@hono/zod-openapi';
import { FerryError } from '../../errors.js';
import { openFleet } from '../../workflow/fleet-open.js';
import { type FleetStatus, fleetStatus } from '../../workflow/fleet-status.js';
import type { ServeApp, ServeContext } from '../context.js';
import { jsonResponse as json, problemResponse as problem } from '../schemas.js';
import { FleetListSchema, FleetNameParam, FleetStatusSchema } from './fleet-schemas.js';

// The fleets of the project (environments with a `fleet` section) as the dashboard reads them: the list, and one
// fleet's `ferry fleet status --json`. Each document is one workflow call (openFleet, fleetStatus); no SQL here.

/** Every fleet environment with its database count (`GET /api/v1/fleets`). */
export type FleetListDocument = z.infer<typeof FleetListSchema>;
/** One fleet: its latest run, every database and the counts (`GET /api/v1/fleets/{name}`). */
export type FleetDocument = z.infer<typeof FleetStatusSchema>;

/** How long a fleet's status is reused: reading it opens every database of the fleet. */
const FRESH_MS = 5000;

const cache = new WeakMap<ServeContext, Map<string, { at: number; doc: Promise<FleetDocument> }>>();

/** The names of the project's fleet environments, in the config's order. */
export function fleetNames(ctx: ServeContext): string[] {
  return Object.entries(ctx.ws.project.config.environments)
    .filter(([, env]) => env.fleet !== undefined)
    .map(([name]) => name);
}

/** The workflow's options for fleet `name`: the server's project and actor. */
const optionsOf = (ctx: ServeContext, name: string) => ({ root: ctx.ws.project.root, env: name, actor: ctx.ws.actor });

/** `text` with any password written in a URL left out (a fleet's databases are shown by their URL without one). */
const withoutPasswords = (text: string) => text.replace(/\b(postgres(?:ql)?:\/\/[^\s:@/]*):[^\s@/]*@/gi, '$1@');

/** A FerryError as one line: its message and hint. */
const errorText = (err: FerryError) => withoutPasswords(err.hint ? `${err.message} (${err.hint})` : err.message);

/** Every fleet environment: its control environment and how many databases it resolves to now, or why it does not. */
export async function fleetListDocument(ctx: ServeContext): Promise<FleetListDocument> {
  const fleets = await Promise.all(
    fleetNames(ctx).map(async (name) => {
      const cfg = ctx.ws.project.config.environments[name]?.fleet;
      const control = cfg ? (cfg.control ?? ('query' in cfg.targets ? cfg.targets.query.env : null)) : null;
      try {
        const { fleet, control: session } = await openFleet(optionsOf(ctx, name), true);
        await session.close();
        return { name, control, databases: fleet.targets.length, error: null };
      } catch (err) {
        if (!(err instanceof FerryError)) throw err;
        return { name, control, databases: null, error: errorText(err) };
      }
    }),
  );
  return { fleets };
}

/** `fleetStatus` as JSON: dates as ISO strings, no password in an error. */
function statusDocument(s: FleetStatus): FleetDocument {
  const run = s.run && { ...s.run, startedAt: s.run.startedAt.toISOString(), finishedAt: s.run.finishedAt?.toISOString() ?? null };
  const databases = s.databases.map((d) => ({
    ...d,
    error: d.error && withoutPasswords(d.error),
    ledger: d.ledger && { ...d.ledger, lastError: d.ledger.lastError && withoutPasswords(d.ledger.lastError) },
  }));
  return { ...s, run, databases };
}

/** Fleet `name`'s status (E_NOT_FOUND when the project has no such fleet), read at most once every few seconds. */
export function fleetDocument(ctx: ServeContext, name: string): Promise<FleetDocument> {
  if (!fleetNames(ctx).includes(name)) {
    return Promise.reject(
      new FerryError(
        'E_NOT_FOUND',
        `no fleet named "${name}"`,
        `the fleets are the environments with a "fleet" section in ferry.config.json (GET /api/v1/fleets)`,
      ),
    );
  }
  const byName = cache.get(ctx) ?? new Map<string, { at: number; doc: Promise<FleetDocument> }>();
  cache.set(ctx, byName);
  const hit = byName.get(name);
  if (hit && Date.now() - hit.at < FRESH_MS) return hit.doc;
  const doc = fleetStatus(optionsOf(ctx, name)).then(statusDocument);
  const entry = { at: Date.now(), doc };
  byName.set(name, entry);
  // A failed read is not kept: the next request tries again.
  doc.catch(() => {
    if (byName.get(name) === entry) byName.delete(name);
  });
  return doc;
}

const listRoute = createRoute({
  method: 'get',
  path: '/api/v1/fleets',
  tags: ['fleets'],
  summary: 'The fleet environments of the project: each with its control environment and database count, or why its databases could not be resolved',
  responses: { 200: json('the fleets', FleetListSchema) },
});

const statusRoute = createRoute({
  method: 'get',
  path: '/api/v1/fleets/{name}',
  tags: ['fleets'],
  summary: "A fleet's latest run, every database's version, phase, drift and last error, and the counts (ferry fleet status --json)",
  request: { params: z.object({ name: FleetNameParam }) },
  responses: {
    200: json('the fleet', FleetStatusSchema),
    400: problem('the fleet cannot be resolved (E_CONFIG: its query failed, a URL is no PostgreSQL, duplicates …)'),
    404: problem('no such fleet, or its control database has no ledger yet (E_NOT_FOUND)'),
    503: problem('the control database cannot be reached (E_CONNECT)'),
  },
});

/** Mount the fleet reads of the JSON API (GET, no token needed). */
export function mountFleetRoutes(app: ServeApp): void {
  app.openapi(listRoute, async (c) => c.json(await fleetListDocument(c.get('ctx')), 200));
  app.openapi(statusRoute, async (c) => c.json(await fleetDocument(c.get('ctx'), c.req.valid('param').name), 200));
}
