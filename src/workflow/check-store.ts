import type { Database, Queryable } from '../db/database.js';
import type { Migration } from '../migration/loader.js';
import { STATE_SCHEMA_VERSIONS } from '../state/schema.js';
import { ensureState, stateExists, stateTableExists } from '../state/store.js';
import { countDataErrors } from '../verify/data-errors.js';
import { type CheckKind, declarationHash } from '../verify/declared.js';
import type { CheckMode, CheckResult } from '../verify/result.js';
import { MIGRATION_LOCK_KEY } from './execute.js';
import type { GateContext } from './gate.js';

export type { CheckMode, CheckResult } from '../verify/result.js';

/** Whether ferry's state has the verification tables (state version 5). */
const hasCheckTables = (db: Queryable) => stateTableExists(db, 'verify_results');

/** Create or upgrade ferry's state when it is behind this ferry's version, taking the migration lock only then (the kill switch must not wait behind a backfill). */
export async function ensureCheckState(db: Database, lockWaitMs: number): Promise<void> {
  if (await stateExists(db)) {
    const { rows } = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM ferry.state_version');
    if ((rows[0]?.v ?? 0) >= STATE_SCHEMA_VERSIONS.length) return;
  }
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, lockWaitMs, () => ensureState(db));
}

/** Store one result. */
export async function recordResult(db: Queryable, r: CheckResult): Promise<void> {
  await db.query(
    `INSERT INTO ferry.verify_results (migration_id, check_name, kind, mode, ok, figures, differences, data_errors, error, declaration, run_id, started_at, finished_at, finished_by)
     VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb, $8, $9, $10, $11, $12, $13, $14)`,
    [
      r.migrationId,
      r.check,
      r.kind,
      r.mode,
      r.ok,
      JSON.stringify(r.figures),
      JSON.stringify(r.differences),
      r.dataErrors,
      r.error,
      r.declaration,
      r.runId,
      r.startedAt,
      r.finishedAt,
      r.by,
    ],
  );
}

const iso = (v: unknown) => (v instanceof Date ? v : new Date(String(v))).toISOString();
const json = (v: unknown) => (typeof v === 'string' ? JSON.parse(v) : v);

function toResult(r: Record<string, unknown>): CheckResult {
  return {
    migrationId: r.migration_id as string,
    check: r.check_name as string,
    kind: r.kind as CheckKind,
    mode: r.mode as CheckMode,
    ok: r.ok as boolean,
    figures: json(r.figures) as Record<string, unknown>,
    differences: json(r.differences) as unknown[],
    dataErrors: Number(r.data_errors),
    error: (r.error as string | null) ?? null,
    declaration: r.declaration as string,
    runId: (r.run_id as string | null) ?? null,
    startedAt: iso(r.started_at),
    finishedAt: iso(r.finished_at),
    by: r.finished_by as string,
  };
}

/**
 * The latest result of every check (of one migration, or all), by migration id,
 * in check-name order; with `mode`, the latest of that mode. Empty before any check ran.
 */
export async function latestResults(db: Queryable, opts: { migrationId?: string; mode?: CheckMode } = {}): Promise<Map<string, CheckResult[]>> {
  const out = new Map<string, CheckResult[]>();
  if (!(await hasCheckTables(db))) return out;
  const { rows } = await db.query(
    `SELECT DISTINCT ON (migration_id, check_name) migration_id, check_name, kind, mode, ok, figures::text AS figures, differences::text AS differences,
            data_errors::text AS data_errors, error, declaration, run_id, started_at, finished_at, finished_by
       FROM ferry.verify_results
      WHERE ($1::text IS NULL OR migration_id = $1) AND ($2::text IS NULL OR mode = $2)
      ORDER BY migration_id, check_name, id DESC`,
    [opts.migrationId ?? null, opts.mode ?? null],
  );
  for (const row of rows) {
    const r = toResult(row as Record<string, unknown>);
    out.set(r.migrationId, [...(out.get(r.migrationId) ?? []), r]);
  }
  return out;
}

/** Of `latest` (a migration's latest results), those of the checks `m` declares now (same declaration), and the declared checks without one. */
export function resultsFor(m: Migration, latest: readonly CheckResult[]): { checks: CheckResult[]; pending: string[] } {
  const checks: CheckResult[] = [];
  const pending: string[] = [];
  for (const c of m.manifest.checks) {
    const r = latest.find((x) => x.check === c.name && x.declaration === declarationHash(c));
    if (r) checks.push(r);
    else pending.push(c.name);
  }
  return { checks, pending };
}

/**
 * Data errors of a migration for the health matrix: the distinct differing rows
 * per table (a row two checks found counts once) of the latest result of each
 * of its checks, plus each failed assertion and count difference; 0 before any ran.
 */
export async function dataErrors(db: Queryable, migrationId: string): Promise<number> {
  const latest = (await latestResults(db, { migrationId })).get(migrationId) ?? [];
  return countDataErrors(latest).total;
}

/** Record which checks `m` declares now, so the verify gate (which reads only the database) knows what to require. */
export async function syncDeclaredChecks(tx: Queryable, m: Migration): Promise<void> {
  await tx.query('DELETE FROM ferry.verify_checks WHERE migration_id = $1', [m.id]);
  for (const c of m.manifest.checks) {
    await tx.query('INSERT INTO ferry.verify_checks (migration_id, check_name, kind, declaration) VALUES ($1, $2, $3, $4)', [
      m.id,
      c.name,
      c.kind,
      declarationHash(c),
    ]);
  }
}

/**
 * The run number of a checksum run of one check: the last one again when it
 * never finished and compares the same thing (so it resumes), else a new one.
 */
export async function startAttempt(
  db: Database,
  migrationId: string,
  check: string,
  fingerprint: string,
  actor: string,
): Promise<{ runNo: number; resumed: boolean }> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`ferry verify ${migrationId} ${check}`]);
    const { rows } = await tx.query<{ run_no: number; fingerprint: string; finished: boolean }>(
      `SELECT run_no, fingerprint, finished_at IS NOT NULL AS finished FROM ferry.verify_attempts
        WHERE migration_id = $1 AND check_name = $2 ORDER BY run_no DESC LIMIT 1`,
      [migrationId, check],
    );
    const last = rows[0];
    if (last && !last.finished && last.fingerprint === fingerprint) return { runNo: last.run_no, resumed: true };
    const runNo = (last?.run_no ?? 0) + 1;
    await tx.query('INSERT INTO ferry.verify_attempts (migration_id, check_name, run_no, fingerprint, started_by) VALUES ($1, $2, $3, $4, $5)', [
      migrationId,
      check,
      runNo,
      fingerprint,
      actor,
    ]);
    return { runNo, resumed: false };
  });
}

/** Mark a run finished (its result is stored): the next run of the check starts afresh. */
export async function finishAttempt(db: Queryable, migrationId: string, check: string, runNo: number): Promise<void> {
  await db.query('UPDATE ferry.verify_attempts SET finished_at = now() WHERE migration_id = $1 AND check_name = $2 AND run_no = $3', [
    migrationId,
    check,
    runNo,
  ]);
}

/**
 * Gate of rolled-out → verified: every check the migration declares (as last
 * recorded by `verify`) has a latest `--full` result for that very declaration,
 * which passed, and no later sampled run failed.
 */
export async function checksPass(ctx: GateContext): Promise<string | undefined> {
  if (!(await hasCheckTables(ctx.tx))) return undefined;
  const { rows } = await ctx.tx.query<{ name: string; declaration: string; full_ok: boolean | null; full_decl: string | null; last_ok: boolean | null }>(
    `SELECT c.check_name AS name, c.declaration, f.ok AS full_ok, f.declaration AS full_decl, l.ok AS last_ok
       FROM ferry.verify_checks c
       LEFT JOIN LATERAL (SELECT ok, declaration FROM ferry.verify_results r
                           WHERE r.migration_id = c.migration_id AND r.check_name = c.check_name AND r.mode = 'full' ORDER BY id DESC LIMIT 1) f ON true
       LEFT JOIN LATERAL (SELECT ok FROM ferry.verify_results r
                           WHERE r.migration_id = c.migration_id AND r.check_name = c.check_name ORDER BY id DESC LIMIT 1) l ON true
      WHERE c.migration_id = $1 ORDER BY c.check_name`,
    [ctx.migrationId],
  );
  const why: string[] = [];
  for (const r of rows) {
    if (r.full_ok === null) why.push(`check ${r.name} has not run with --full`);
    else if (r.full_decl !== r.declaration) why.push(`check ${r.name} changed since its last --full run`);
    else if (!r.full_ok) why.push(`check ${r.name} failed`);
    else if (r.last_ok === false) why.push(`check ${r.name} failed its latest (sampled) run`);
  }
  return why.length ? `${why.join('; ')} (run \`ferry verify ${ctx.migrationId} --full\`)` : undefined;
}
