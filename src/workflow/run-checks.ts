import { createHash } from 'node:crypto';
import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { effectivePercentage, readFlag, readRollout } from '../rollout/index.js';
import { appendEvent } from '../state/store.js';
import { canonicalJson, type DeclaredCheck, declarationHash, unitColumnOf } from '../verify/declared.js';
import {
  assertSchema,
  type ChecksumProgress,
  type Cohort,
  checksumTables,
  countDataErrors,
  countRows,
  diffRows,
  dropRun,
  type KeyedSpec,
  type RowDifference,
  sampleRows,
  type TableSide,
  withSnapshot,
} from '../verify/index.js';
import { type CheckMode, type CheckResult, ensureCheckState, finishAttempt, recordResult, startAttempt, syncDeclaredChecks } from './check-store.js';
import type { CheckDatabases } from './environments.js';

/** How `runChecks` runs a migration's checks. */
export interface RunChecksOptions {
  actor: string;
  /** `full`: count, diff, full checksum, schema. `sample`: keyed checks compare `sampleSize` random keys instead. */
  mode: CheckMode;
  /** Keys per keyed check in `sample` mode. Default 1,000. */
  sampleSize?: number;
  /** Run only the checks of these names. */
  only?: readonly string[];
  databases: CheckDatabases;
  /** How long to wait for the migration lock when ferry's state needs an upgrade. */
  lockWaitMs: number;
  /** Differing rows kept and stored per check (all are counted). Default 100; a check's own `limit`/`maxDifferences` wins. */
  maxDifferences?: number;
  /** Called as checksum chunks finish, for a progress bar. */
  onProgress?: (p: CheckProgress) => void;
  signal?: AbortSignal;
}

/** Progress of one running checksum check. */
export interface CheckProgress extends ChecksumProgress {
  migrationId: string;
  check: string;
}

/** What one `runChecks` call found. */
export interface ChecksRun {
  migrationId: string;
  mode: CheckMode;
  results: CheckResult[];
  ok: boolean;
  /** Distinct differing rows per table, plus failed assertions and count differences (a row two checks found counts once). */
  dataErrors: number;
}

/** The cohort of a check, its percentage resolved from the flag (or rollout) when declared `current`. */
async function cohortOf(home: Database, m: Migration, c: DeclaredCheck): Promise<Cohort | undefined> {
  if (c.kind === 'schema' || c.cohort === undefined) return undefined;
  const declared = c.cohort === 'current' ? { percent: 'current' as const } : c.cohort;
  const flag = ('flag' in declared ? declared.flag : undefined) ?? m.manifest.flag;
  const unitColumn = unitColumnOf(c, c.cohort);
  if (!flag || !unitColumn) throw new FerryError('E_MANIFEST', `check ${c.name} of ${m.id}: its cohort needs a flag and a unit column`);
  // The flag's include and exclude lists shape the cohort whatever percentage the check names.
  const f = await readFlag(home, flag);
  let percent = declared.percent;
  if (percent === 'current') percent = f ? effectivePercentage(f) : ((await readRollout(home, m.id))?.percentage ?? 0);
  return {
    flag,
    unitColumn,
    percent,
    ...(f?.include.length ? { include: f.include } : {}),
    ...(f?.exclude.length ? { exclude: f.exclude } : {}),
  };
}

const side = (s: { table: string; schema?: string | undefined; where?: string | undefined }): TableSide => ({
  table: s.table,
  ...(s.schema === undefined ? {} : { schema: s.schema }),
  ...(s.where === undefined ? {} : { where: s.where }),
});

function keyedSpec(c: Extract<DeclaredCheck, { kind: 'diff' | 'checksum' }>, cohort: Cohort | undefined): KeyedSpec {
  return { source: side(c.source), target: side(c.target), key: c.key, columns: c.columns, ...(cohort ? { cohort } : {}) };
}

/** The same comparison seen from the other side: used so resume state is written to the migration's own database. */
function swapped(spec: KeyedSpec): KeyedSpec {
  const columns = spec.columns.map((col) => {
    if (typeof col === 'string') return col;
    return { name: col.name, ...(col.target === undefined ? {} : { source: col.target }), ...(col.source === undefined ? {} : { target: col.source }) };
  });
  return { ...spec, source: spec.target, target: spec.source, columns };
}

function unswap(d: RowDifference): RowDifference {
  const kind = d.kind === 'missing' ? 'extra' : d.kind === 'extra' ? 'missing' : 'changed';
  return { ...d, kind, source: d.target, target: d.source };
}

type Outcome = Pick<CheckResult, 'ok' | 'figures' | 'differences' | 'dataErrors' | 'runId'>;

async function runChecksum(
  m: Migration,
  c: Extract<DeclaredCheck, { kind: 'checksum' }>,
  spec: KeyedSpec,
  dbs: [Database, Database],
  opts: RunChecksOptions,
): Promise<Outcome> {
  // The run's resume state lives in its target: keep it in the migration's own database when only the target is elsewhere.
  const swap = dbs[0] === opts.databases.home && dbs[1] !== opts.databases.home;
  const [source, target] = swap ? [dbs[1], dbs[0]] : dbs;
  const runSpec = swap ? swapped(spec) : spec;
  const chunkRows = c.chunkRows ?? 10_000;
  const fingerprint = createHash('sha256')
    .update(canonicalJson({ spec: runSpec, chunkRows }))
    .digest('hex');
  const { runNo } = await startAttempt(opts.databases.home, m.id, c.name, fingerprint, opts.actor);
  const runId = `${m.id}/${c.name}/${runNo}`;
  const r = await checksumTables(source, target, runSpec, {
    chunkRows,
    maxDifferences: c.maxDifferences ?? opts.maxDifferences ?? 100,
    runId,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onProgress: (p) => opts.onProgress?.({ migrationId: m.id, check: c.name, ...p }),
  });
  const differences = swap ? r.differences.map(unswap) : r.differences;
  const [sourceRows, targetRows] = swap ? [r.targetRows, r.sourceRows] : [r.sourceRows, r.targetRows];
  return {
    ok: r.ok,
    figures: {
      sourceRows,
      targetRows,
      differenceCount: r.differenceCount,
      chunks: r.chunks,
      chunksSkipped: r.chunksSkipped,
      snapshot: r.snapshot,
      snapshotScope: r.snapshotScope,
      ...r.stats,
    },
    differences,
    dataErrors: r.differenceCount,
    runId,
  };
}

/** Run one check in `mode`; throws when it cannot run. */
async function runOne(m: Migration, c: DeclaredCheck, opts: RunChecksOptions): Promise<Outcome> {
  const dbs = opts.databases;
  if (c.kind === 'schema') {
    const r = await assertSchema(await dbs.of(c.env), c.assertions);
    const failed = r.results.filter((x) => !x.ok);
    return {
      ok: r.ok,
      figures: { assertions: r.results.length, failed: failed.length, results: r.results },
      differences: failed,
      dataErrors: failed.length,
      runId: null,
    };
  }
  const pair: [Database, Database] = [await dbs.of(c.source.env), await dbs.of(c.target.env)];
  const cohort = await cohortOf(dbs.home, m, c);
  const cohortFigures = cohort ? { cohort } : {};
  if (c.kind === 'count') {
    const spec = {
      source: 'query' in c.source ? { query: c.source.query } : side(c.source),
      target: 'query' in c.target ? { query: c.target.query } : side(c.target),
    };
    const r = await withSnapshot(pair[0], pair[1], (p) => countRows(p.source, p.target, { ...spec, ...(cohort ? { cohort } : {}) }));
    return {
      ok: r.ok,
      figures: { sourceRows: r.sourceRows, targetRows: r.targetRows, difference: r.difference, ...r.stats, ...cohortFigures },
      differences: [],
      dataErrors: Math.abs(r.difference),
      runId: null,
    };
  }
  const spec = keyedSpec(c, cohort);
  const keep = (c.kind === 'diff' ? c.limit : c.maxDifferences) ?? opts.maxDifferences ?? (c.kind === 'diff' ? 20 : 100);
  if (opts.mode === 'sample') {
    const size = opts.sampleSize ?? 1000;
    const r = await withSnapshot(pair[0], pair[1], (p) => sampleRows(p.source, p.target, spec, { size, maxDifferences: keep }));
    return {
      ok: r.ok,
      figures: { sampled: r.sampled, differenceCount: r.differenceCount, ...r.stats, ...cohortFigures },
      differences: r.differences,
      dataErrors: r.differenceCount,
      runId: null,
    };
  }
  if (c.kind === 'checksum') {
    const r = await runChecksum(m, c, spec, pair, opts);
    return { ...r, figures: { ...r.figures, ...cohortFigures } };
  }
  const r = await withSnapshot(pair[0], pair[0], (p) => diffRows(p.source, spec, { limit: keep }));
  return {
    ok: r.ok,
    figures: { differenceCount: r.differenceCount, shown: r.differences.length, ...r.stats, ...cohortFigures },
    differences: r.differences,
    dataErrors: r.differenceCount,
    runId: null,
  };
}

/** The checks of `m` that `only` selects (all when absent); unknown names are E_USAGE. */
export function selectChecks(m: Migration, only: readonly string[] | undefined): DeclaredCheck[] {
  if (!only?.length) return m.manifest.checks;
  const names = m.manifest.checks.map((c) => c.name);
  const unknown = only.filter((n) => !names.includes(n));
  if (unknown.length) {
    throw new FerryError(
      'E_USAGE',
      `migration ${m.id} declares no check ${unknown.map((n) => `"${n}"`).join(', ')}`,
      `its checks: ${names.join(', ') || 'none'}`,
    );
  }
  return m.manifest.checks.filter((c) => only.includes(c.name));
}

/**
 * Run a migration's declared checks (count, diff, checksum, schema) in `mode`,
 * store each result in `ferry.verify_results` and log one `checks` event. A
 * check that cannot run (a missing table …) is stored as failed with its
 * error. A checksum run interrupted by a crash is resumed by the next call.
 */
export async function runChecks(m: Migration, opts: RunChecksOptions): Promise<ChecksRun> {
  const home = opts.databases.home;
  const checks = selectChecks(m, opts.only);
  await ensureCheckState(home, opts.lockWaitMs);
  await home.transaction((tx) => syncDeclaredChecks(tx, m));
  const results: CheckResult[] = [];
  for (const c of checks) {
    const startedAt = new Date().toISOString();
    let outcome: Outcome;
    let error: string | null = null;
    try {
      outcome = await runOne(m, c, opts);
    } catch (err) {
      if (opts.signal?.aborted) throw err;
      error = err instanceof Error ? err.message : String(err);
      outcome = { ok: false, figures: {}, differences: [], dataErrors: 0, runId: null };
    }
    const mode: CheckMode = opts.mode === 'sample' && (c.kind === 'diff' || c.kind === 'checksum') ? 'sample' : 'full';
    const result: CheckResult = {
      migrationId: m.id,
      check: c.name,
      kind: c.kind,
      mode,
      ...outcome,
      // The compared table, so rows that several checks of one table find count once (countDataErrors).
      ...(c.kind === 'diff' || c.kind === 'checksum' ? { figures: { ...outcome.figures, table: comparedTable(c) } } : {}),
      error,
      declaration: declarationHash(c),
      startedAt,
      finishedAt: new Date().toISOString(),
      by: opts.actor,
    };
    await home.transaction(async (tx) => {
      await recordResult(tx, result);
      if (outcome.runId) {
        const runNo = Number(outcome.runId.slice(outcome.runId.lastIndexOf('/') + 1));
        await finishAttempt(tx, m.id, c.name, runNo);
      }
    });
    if (outcome.runId && c.kind === 'checksum') await forgetRun(opts.databases, c, outcome.runId);
    results.push(result);
  }
  const ok = results.every((r) => r.ok);
  const dataErrors = countDataErrors(results).total;
  const failed = results.filter((r) => !r.ok).map((r) => r.check);
  await appendEvent(home, {
    migrationId: m.id,
    actor: opts.actor,
    kind: 'checks',
    reason: ok ? `${results.length} check(s) passed (${opts.mode})` : `check(s) failed (${opts.mode}): ${failed.join(', ')}; ${dataErrors} data error(s)`,
    details: {
      mode: opts.mode,
      checks: results.map((r) => ({ name: r.check, kind: r.kind, ok: r.ok, dataErrors: r.dataErrors, error: r.error, runId: r.runId })),
    },
  });
  return { migrationId: m.id, mode: opts.mode, results, ok, dataErrors };
}

/** The table a keyed check compares, as the key of its differing rows: the target side, with its environment and schema when declared. */
function comparedTable(c: Extract<DeclaredCheck, { kind: 'diff' | 'checksum' }>): string {
  const t = c.target;
  return `${t.env === undefined ? '' : `${t.env}:`}${t.schema === undefined ? '' : `${t.schema}.`}${t.table}`;
}

/** Drop a finished run's chunk records (its result is stored) from whichever database held them. */
async function forgetRun(dbs: CheckDatabases, c: Extract<DeclaredCheck, { kind: 'checksum' }>, runId: string): Promise<void> {
  const source = await dbs.of(c.source.env);
  const target = await dbs.of(c.target.env);
  const holder = source === dbs.home && target !== dbs.home ? source : target;
  await dropRun(holder, runId);
}
