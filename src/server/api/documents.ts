import type { z } from '@hono/zod-openapi';
import type { Migration } from '../../migration/loader.js';
import { archivedIds, archivedMigrations, migrationDetail, migrationOverview, timelineEvent, verifyResults } from '../../workflow/dashboard.js';
import { type DocumentKind, renderDocument } from '../../workflow/documents.js';
import { migrationLog, migrationStatus } from '../../workflow/status.js';
import type { ServeContext } from '../context.js';
import type { EventsSchema, MarkdownSchema, MigrationDetailSchema, OverviewSchema, StatusSchema, VerifySchema } from './read-schemas.js';

// The documents the read routes answer with and the pages render: each is one workflow function called
// through ctx.withDb, shaped by the schemas of read-schemas.ts (which the OpenAPI document describes).

/** The overview: every migration as one row (`GET /api/v1/migrations`). */
export type OverviewDocument = z.infer<typeof OverviewSchema>;
/** `ferry status --json` (`GET /api/v1/status`). */
export type StatusDocument = z.infer<typeof StatusSchema>;
/** A migration's page (`GET /api/v1/migrations/{id}`). */
export type MigrationDocument = z.infer<typeof MigrationDetailSchema>;
/** A migration's event log, oldest first (`GET /api/v1/migrations/{id}/events`). */
export type EventsDocument = z.infer<typeof EventsSchema>;
/** The latest result of each declared check (`GET /api/v1/migrations/{id}/verify`). */
export type VerifyDocument = z.infer<typeof VerifySchema>;
/** A rendered Markdown document (`GET /api/v1/migrations/{id}/documents/{kind}`). */
export type MarkdownDocument = z.infer<typeof MarkdownSchema>;

/** Whether `m` is one of the project's current migrations (not only in the archive). */
async function isCurrent(ctx: ServeContext, m: Migration): Promise<boolean> {
  return (await ctx.migrations()).some((x) => x.id === m.id);
}

/** Every migration, archived ones last; with `active`, only those not archived nor wholly rolled back. */
export async function overviewDocument(ctx: ServeContext, opts: { active?: boolean } = {}): Promise<OverviewDocument> {
  const migrations = await ctx.migrations();
  const archived = await archivedMigrations(ctx.ws.project);
  const o = await ctx.withDb((db) => migrationOverview(db, migrations, { archived }));
  return { env: ctx.ws.conn.env, migrations: opts.active ? o.migrations.filter((r) => r.active) : o.migrations, orphanDrift: o.orphanDrift };
}

/** The same document as `ferry status --json`: every current migration with its phase, steps, drift, backfills, checks and guidance. */
export async function statusDocument(ctx: ServeContext): Promise<StatusDocument> {
  const migrations = await ctx.migrations();
  const archived = archivedIds(ctx.ws.project);
  return ctx.withDb((db) => migrationStatus(db, migrations, { archived }));
}

/** Migration `id` (E_NOT_FOUND when unknown): its overview row, status, timeline and steps with their SQL and locks. */
export async function migrationDocument(ctx: ServeContext, id: string): Promise<MigrationDocument> {
  const m = await ctx.migration(id);
  const current = await isCurrent(ctx, m);
  return ctx.withDb(async (db) => {
    const o = await migrationOverview(db, current ? [m] : [], current ? {} : { archived: [m] });
    const d = await migrationDetail(db, m);
    return { migration: o.migrations[0] as OverviewDocument['migrations'][number], ...d };
  });
}

/** The event log of migration `id`, as `ferry log <id> --json` prints it. */
export async function eventsDocument(ctx: ServeContext, id: string): Promise<EventsDocument> {
  const m = await ctx.migration(id);
  const { events } = await ctx.withDb((db) => migrationLog(db, m.id));
  return { events: events.map(timelineEvent) };
}

/** The latest result of each check migration `id` declares, with the differing keys and both values. */
export async function verifyDocument(ctx: ServeContext, id: string): Promise<VerifyDocument> {
  const m = await ctx.migration(id);
  return ctx.withDb((db) => verifyResults(db, m));
}

/** Document `kind` of migration `id` (plan, rollback plan, report, retro), rendered from the same Markdown as the CLI's. */
export async function markdownDocument(ctx: ServeContext, id: string, kind: DocumentKind): Promise<MarkdownDocument> {
  const m = await ctx.migration(id);
  const migrations = await ctx.migrations();
  return ctx.withDb((db) => renderDocument(db, m, kind, { env: ctx.ws.conn.env, migrations }));
}
