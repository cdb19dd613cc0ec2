import { backfillProgress } from '../backfill/progress.js';
import { sizeWithoutWaiting } from '../db/catalog.js';
import type { Database, Queryable } from '../db/database.js';
import type { DocState, HealthRecord, StatementLock, TableVolume } from '../docs/state.js';
import { isFerryError } from '../errors.js';
import { thresholdsOf } from '../health/thresholds.js';
import { lintMigration, readLintCatalog } from '../lint/index.js';
import { analyseStatement } from '../lint/locks.js';
import type { Migration } from '../migration/loader.js';
import { preflightProblems } from '../operations/preflight.js';
import { stagesOf } from '../rollout/schedule.js';
import { type AppliedStep, readEvents, readState } from '../state/store.js';
import { approvalStatus } from './approvals.js';
import { listBackups } from './backup.js';
import { latestResults, resultsFor } from './check-store.js';
import { countRollbackLoss, type LossCount } from './data-loss.js';
import { viewOf } from './plan-state.js';
import { asApplied } from './recorded.js';

/** How long the rollback plan waits for a lock to count the rows `down` would lose. */
const LOSS_LOCK_TIMEOUT_MS = 2000;

/** Tables larger than this (by the planner's estimate) are not counted row by row. */
const EXACT_COUNT_LIMIT = 1_000_000;

/** Every lock each step's forward statements take, from PostgreSQL's parse of them (nothing runs). */
export function statementLocks(m: Migration): StatementLock[] {
  return m.steps.flatMap((st) =>
    (st.forward?.statements ?? []).flatMap((stmt) =>
      analyseStatement(stmt).locks.map((l) => ({
        stepId: st.id,
        phase: st.phase ?? 'expand',
        statement: stmt.text.split('\n')[0] ?? '',
        relation: l.relation,
        mode: l.mode,
        blocks: l.blocks,
      })),
    ),
  );
}

/** The tables a migration touches, by name, with the steps touching each: every locked relation and every backfill table. */
export function touchedTables(m: Migration): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const add = (table: string, step: string) => {
    const steps = out.get(table) ?? [];
    if (!steps.includes(step)) steps.push(step);
    out.set(table, steps);
  };
  for (const l of statementLocks(m)) add(l.relation, l.stepId);
  for (const st of m.steps) if (st.backfill) add(st.backfill.table, st.id);
  return out;
}

/**
 * Row counts (exact below a million rows, else the planner's estimate) and total sizes of the tables `m` touches.
 * Names are resolved as PostgreSQL would (search_path), so `users` and `public.users` are one table, counted once.
 */
export async function measureTables(db: Queryable, m: Migration): Promise<TableVolume[]> {
  const out: TableVolume[] = [];
  const byKey = new Map<string, TableVolume>();
  for (const [table, steps] of touchedTables(m)) {
    const dot = table.indexOf('.');
    const schema = dot > 0 ? table.slice(0, dot) : null;
    const name = dot > 0 ? table.slice(dot + 1) : table;
    const { rows } = await db.query<{ oid: number | null; qualified: string | null; reltuples: number; bytes: string; created_in: string | null }>(
      `SELECT c.oid::int AS oid, quote_ident(n.nspname) || '.' || quote_ident(c.relname) AS qualified, c.reltuples::float8 AS reltuples,
              (${sizeWithoutWaiting('c.oid')})::text AS bytes, current_schema()::text AS created_in
         FROM (SELECT 1) one
         LEFT JOIN pg_class c ON c.oid = to_regclass(CASE WHEN $1::text IS NULL THEN quote_ident($2) ELSE quote_ident($1) || '.' || quote_ident($2) END)
                              AND c.relkind IN ('r', 'p')
         LEFT JOIN pg_namespace n ON n.oid = c.relnamespace`,
      [schema, name],
    );
    const r = rows[0];
    // A table that does not exist yet is created where an unqualified name goes: the current schema.
    const key = r?.oid != null ? `oid ${r.oid}` : `${schema ?? r?.created_in ?? 'public'}.${name}`;
    const seen = byKey.get(key);
    if (seen) {
      for (const st of steps) if (!seen.steps.includes(st)) seen.steps.push(st);
      continue;
    }
    let v: TableVolume;
    if (!r?.qualified) v = { table, exists: false, rows: 0, estimated: false, bytes: 0, steps: [...steps] };
    else {
      const estimated = r.reltuples >= EXACT_COUNT_LIMIT;
      // The name comes from the catalog, quoted by quote_ident.
      const n = estimated ? r.reltuples : Number((await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${r.qualified}`)).rows[0]?.n ?? 0);
      v = { table, exists: true, rows: n, estimated, bytes: Number(r.bytes), steps: [...steps] };
    }
    byKey.set(key, v);
    out.push(v);
  }
  return out;
}

/** The health evaluations the health controller logged (events of kind `health`), in a shape documents can show. */
export function healthRecords(events: Awaited<ReturnType<typeof readEvents>>): HealthRecord[] {
  return events
    .filter((e) => e.kind === 'health')
    .map((e) => {
      const d = (e.details ?? {}) as Record<string, unknown>;
      const colour = String(d.colour ?? d.decision ?? d.overall ?? /(green|yellow|red|no-data)/.exec(e.reason ?? '')?.[1] ?? 'unknown');
      const pctValue = d.percentage ?? d.stage;
      const facts = Object.entries(d)
        .filter(([k, v]) => !['colour', 'decision', 'overall', 'percentage', 'stage'].includes(k) && v !== null && typeof v !== 'object')
        .map(([k, v]) => `${k}: ${String(v)}`);
      const metrics = Array.isArray(d.metrics) ? (d.metrics as { metric?: unknown; value?: unknown; colour?: unknown }[]) : [];
      for (const x of metrics) facts.push(`${String(x.metric)}: ${x.value === null || x.value === undefined ? '—' : String(x.value)} (${String(x.colour)})`);
      return { at: e.at, percentage: typeof pctValue === 'number' ? pctValue : null, colour, facts: facts.length ? facts : e.reason ? [e.reason] : [] };
    });
}

/** The health thresholds of `m`: the manifest's `health.thresholds` overrides when it has them, else the workflow's defaults. */
function thresholdsFor(m: Migration) {
  const health = (m.manifest as { health?: { thresholds?: Parameters<typeof thresholdsOf>[0] } }).health;
  return thresholdsOf(health?.thresholds);
}

/**
 * The problems of `m`'s pending steps against the live catalog, after the
 * pending steps of the migrations listed before it in `all` (see src/operations/preflight.ts).
 */
async function fitOf(db: Queryable, state: Awaited<ReturnType<typeof readState>>, m: Migration, all: Migration[]): Promise<string[]> {
  const pendingOf = (x: Migration) => viewOf(x, state.migrations.get(x.id), state.applied.get(x.id) ?? []).pending;
  const before = all.slice(
    0,
    Math.max(
      0,
      all.findIndex((x) => x.id === m.id),
    ),
  );
  return preflightProblems(
    db,
    m,
    pendingOf(m),
    before.map((x) => ({ migration: x, pending: pendingOf(x) })),
  );
}

/**
 * Read everything the documents of `m` show, from the database (read-only) and the migration's files.
 * With `measure`, also the data volume and whether the pending steps fit the catalog (after those of `migrations` listed before `m`).
 */
export async function loadDocState(
  db: Database,
  m: Migration,
  opts: { env: string; now?: Date; measure?: boolean; countLoss?: boolean; migrations?: Migration[] },
): Promise<DocState> {
  const state = await readState(db);
  const known = state.migrations.has(m.id);
  const events = known ? await readEvents(db, m.id) : [];
  const latest = known ? ((await latestResults(db, { migrationId: m.id })).get(m.id) ?? []) : [];
  const results = resultsFor(m, latest);
  return {
    migration: m,
    now: opts.now ?? new Date(),
    env: opts.env,
    driver: db.kind,
    phase: state.migrations.get(m.id)?.phase ?? null,
    events,
    applied: state.applied.get(m.id) ?? [],
    volumes: opts.measure === false ? [] : await measureTables(db, m),
    ...(opts.measure === false ? {} : { preflight: await fitOf(db, state, m, opts.migrations ?? [m]) }),
    locks: statementLocks(m),
    classification: lintMigration(m, { catalog: await readLintCatalog(db) }).classification,
    backfills: known ? await backfillProgress(db, m.id) : [],
    checks: results.checks,
    checksPending: results.pending,
    approvals: await approvalStatus(db, m.id, m.checksum, m.manifest.plan.approvals),
    backups: await listBackups(db, m.id),
    stages: stagesOf(m.manifest.rollout),
    thresholds: thresholdsFor(m),
    health: healthRecords(events),
    ...(opts.countLoss ? await lossOfFullDown(db, m, state.applied.get(m.id) ?? [], state.migrations.get(m.id)?.phase) : {}),
  };
}

/**
 * The rows a full `down` of `m` would lose now; nothing while no step is applied or once the migration is
 * contracted (down cannot run); not counted (the plan says so) when the count timed out.
 */
async function lossOfFullDown(db: Database, m: Migration, applied: AppliedStep[], phase: string | undefined): Promise<{ rollbackLoss?: LossCount[] }> {
  if (phase === 'contracted' || phase === 'archived') return { rollbackLoss: [] };
  const byId = new Map(applied.map((a) => [a.stepId, a]));
  const steps = m.steps
    .filter((s) => s.phase !== 'contract' && byId.has(s.id))
    .reverse()
    .map((s) => asApplied(s, byId.get(s.id)));
  if (steps.length === 0) return { rollbackLoss: [] };
  try {
    return { rollbackLoss: await countRollbackLoss(db, steps, LOSS_LOCK_TIMEOUT_MS) };
  } catch (err) {
    if (isFerryError(err, 'E_LOCKED')) return {};
    throw err;
  }
}
