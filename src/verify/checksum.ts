import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { quoteIdent } from '../db/quote.js';
import { FerryError } from '../errors.js';
import { counted, newStats, type QueryStats, type RowDifference } from './result.js';
import { type Comparison, compareLeaf, onBoth } from './rows.js';
import { ALL_KEYS, type KeyRange, keyCompare, keyOfRow, Params, planSide, type SidePlan, whereOf } from './side.js';
import { type SnapshotMode, withSnapshot } from './snapshot.js';
import type { KeyedSpec } from './spec.js';
import { type ChunkRecord, ensureVerifyState, loadRun, recordChunk, startRun } from './state.js';

/** How a checksum comparison cuts and bisects. */
export interface ChecksumOptions {
  /** Rows of the source per top-level chunk (the unit of progress and resume). Default 10,000. */
  chunkRows?: number;
  /** A differing chunk of at most this many rows is compared row by row (keys and hashes only). Default 64. */
  leafRows?: number;
  /** Sub-chunks a differing chunk is cut into per bisection step. Default 16. */
  fanout?: number;
  /** Differences whose values are fetched and returned; more are only counted. Default 1,000. */
  maxDifferences?: number;
  /** Called after each top-level chunk. */
  onProgress?: (progress: ChecksumProgress) => void;
  /** Stops the comparison between top-level chunks (finished chunks stay recorded). */
  signal?: AbortSignal;
}

/** Options of {@link checksumTables}: those of {@link checksum} plus resume. */
export interface ChecksumRunOptions extends ChecksumOptions {
  /** Record finished top-level chunks under this id in `ferry.verify_chunks` on the target; a re-run with it skips them. */
  runId?: string;
}

/** Progress of a checksum comparison, for a progress bar. */
export interface ChecksumProgress {
  chunksDone: number;
  chunksTotal: number;
  differenceCount: number;
}

/** The outcome of a checksum comparison. */
export interface ChecksumResult {
  check: 'checksum';
  /** No row differs. */
  ok: boolean;
  sourceRows: number;
  targetRows: number;
  /** Top-level chunks, and how many of them a resumed run found already finished. */
  chunks: number;
  chunksSkipped: number;
  differenceCount: number;
  /** The first `maxDifferences` differences in key order, with both sides' values. */
  differences: RowDifference[];
  /** Statements sent and rows fetched by this call (not by earlier runs it resumed). */
  stats: QueryStats;
  /** How the sides were read: one snapshot for the whole run, or (resumable runs) one per top-level chunk. */
  snapshot: SnapshotMode;
  snapshotScope: 'run' | 'chunk';
  runId?: string;
}

interface Agg {
  rows: number;
  sum: string;
}
const ZERO: Agg = { rows: 0, sum: '0' };
const same = (a: Agg, b: Agg) => a.rows === b.rows && a.sum === b.sum;

interface Settings {
  chunkRows: number;
  leafRows: number;
  fanout: number;
  maxDifferences: number;
}

function settingsOf(opts: ChecksumOptions): Settings {
  const positive = (v: number | undefined, d: number, min = 1) => Math.max(min, Math.floor(v ?? d));
  return {
    chunkRows: positive(opts.chunkRows, 10_000),
    leafRows: positive(opts.leafRows, 64),
    fanout: positive(opts.fanout, 16, 2),
    maxDifferences: positive(opts.maxDifferences, 1000, 0),
  };
}

/** Count and hash-sum of one side's rows in `range`, computed inside the database. */
async function aggregate(q: Queryable, p: SidePlan, range: KeyRange): Promise<Agg> {
  const params = new Params();
  const { rows } = await q.query<{ n: string; s: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(${p.hash}), 0)::text AS s FROM ${p.relation} ${whereOf(p, range, params)}`,
    params.values,
  );
  return { rows: Number(rows[0]?.n ?? 0), sum: rows[0]?.s ?? '0' };
}

/** Keys at every `step`-th row of `range` in key order, below row `total`: split points that cut the range into ≈ equal parts. */
async function splitKeys(q: Queryable, p: SidePlan, range: KeyRange, step: number, total: number): Promise<string[][]> {
  const params = new Params();
  const keys = p.keyNames.map((k, i) => `${quoteIdent(k)} AS k${i}`);
  const where = whereOf(p, range, params);
  const { rows } = await q.query<Record<string, unknown>>(
    `SELECT ${p.keyNames.map((_, i) => `k${i}::text AS k${i}`).join(', ')}
       FROM (SELECT ${keys.join(', ')}, row_number() OVER (ORDER BY ${p.keyOrder.join(', ')}) AS ferry_rn FROM ${p.relation} ${where}) x
      WHERE ferry_rn % ${params.add(step)}::bigint = 0 AND ferry_rn < ${params.add(total)}::bigint ORDER BY ferry_rn`,
    params.values,
  );
  return rows.map((r) => keyOfRow(p, r));
}

/** Count and hash-sum of each sub-range of `range` cut at `bounds`, in one scan. */
async function subAggregates(q: Queryable, p: SidePlan, range: KeyRange, bounds: string[][]): Promise<Agg[]> {
  const params = new Params();
  const cases = bounds.map((b, i) => `WHEN ${keyCompare(p, '<=', b, params)} THEN ${i}`).join(' ');
  const { rows } = await q.query<{ c: number; n: string; s: string }>(
    `SELECT CASE ${cases} ELSE ${bounds.length} END AS c, count(*)::text AS n, coalesce(sum(${p.hash}), 0)::text AS s
       FROM ${p.relation} ${whereOf(p, range, params)} GROUP BY 1`,
    params.values,
  );
  const out = Array.from({ length: bounds.length + 1 }, () => ZERO);
  for (const r of rows) out[Number(r.c)] = { rows: Number(r.n), sum: r.s };
  return out;
}

/** Ranges between consecutive `bounds` inside `range`. */
function cut(range: KeyRange, bounds: string[][]): KeyRange[] {
  const edges = [range.lo, ...bounds, range.hi];
  return bounds.concat([[]]).map((_, i) => ({ lo: edges[i] ?? null, hi: edges[i + 1] ?? null }));
}

/** Find the differing rows of `range` whose aggregates are `s` and `t`: equal → done; small → row by row; else cut and recurse. */
async function bisect(c: Comparison, cfg: Settings, range: KeyRange, s: Agg, t: Agg): Promise<void> {
  if (same(s, t)) return;
  const larger = Math.max(s.rows, t.rows);
  if (larger <= cfg.leafRows) return compareLeaf(c, range);
  const parts = Math.min(cfg.fanout, Math.ceil(larger / cfg.leafRows));
  const step = Math.ceil(larger / parts);
  // Split points come from the fuller side; both sides are then cut at the same keys.
  const bounds = s.rows >= t.rows ? await splitKeys(c.source, c.sourcePlan, range, step, larger) : await splitKeys(c.target, c.targetPlan, range, step, larger);
  if (bounds.length === 0) return compareLeaf(c, range); // one key holds every row (duplicates): nothing to cut
  const [sa, ta] = await onBoth(c, (q, p) => subAggregates(q, p, range, bounds));
  const ranges = cut(range, bounds);
  for (let i = 0; i < ranges.length; i++) await bisect(c, cfg, ranges[i]!, sa[i] ?? ZERO, ta[i] ?? ZERO);
}

/** Compare one top-level chunk; returns its record. */
async function compareChunk(c: Comparison, cfg: Settings, chunk: number, range: KeyRange): Promise<ChunkRecord> {
  const before = { count: c.differenceCount, kept: c.differences.length };
  const [s, t] = await onBoth(c, (q, p) => aggregate(q, p, range));
  await bisect(c, cfg, range, s, t);
  return {
    chunk,
    sourceRows: s.rows,
    targetRows: t.rows,
    differenceCount: c.differenceCount - before.count,
    differences: c.differences.slice(before.kept),
  };
}

/** Top-level split points: every `chunkRows`-th source key. */
function topBounds(q: Queryable, p: SidePlan, chunkRows: number): Promise<string[][]> {
  return splitKeys(q, p, ALL_KEYS, chunkRows, Number.MAX_SAFE_INTEGER);
}

function comparison(source: Queryable, target: Queryable, plans: [SidePlan, SidePlan], parallel: boolean, cfg: Settings): Comparison {
  return { source, target, sourcePlan: plans[0], targetPlan: plans[1], parallel, maxDifferences: cfg.maxDifferences, differences: [], differenceCount: 0 };
}

function summarise(
  records: ChunkRecord[],
  cfg: Settings,
  stats: QueryStats,
  extra: Pick<ChecksumResult, 'chunks' | 'chunksSkipped' | 'snapshot' | 'snapshotScope'>,
): ChecksumResult {
  const sorted = [...records].sort((a, b) => a.chunk - b.chunk);
  const differenceCount = sorted.reduce((n, r) => n + r.differenceCount, 0);
  return {
    check: 'checksum',
    ok: differenceCount === 0,
    sourceRows: sorted.reduce((n, r) => n + r.sourceRows, 0),
    targetRows: sorted.reduce((n, r) => n + r.targetRows, 0),
    differenceCount,
    differences: sorted.flatMap((r) => r.differences).slice(0, cfg.maxDifferences),
    stats,
    ...extra,
  };
}

/**
 * Checksum comparison on two open sessions (already in whatever transaction
 * the caller wants): both sides cut into the same key ranges, each hashed in
 * its database, differing ranges bisected down to the differing rows.
 */
export async function checksum(source: Queryable, target: Queryable, spec: KeyedSpec, opts: ChecksumOptions = {}): Promise<ChecksumResult> {
  const cfg = settingsOf(opts);
  const stats = newStats();
  const s = counted(source, stats);
  const t = source === target ? s : counted(target, stats);
  const plans: [SidePlan, SidePlan] = [await planSide(s, spec, 'source'), await planSide(t, spec, 'target')];
  const c = comparison(s, t, plans, source !== target, cfg);
  const ranges = cut(ALL_KEYS, await topBounds(s, plans[0], cfg.chunkRows));
  const records: ChunkRecord[] = [];
  for (const [i, range] of ranges.entries()) {
    opts.signal?.throwIfAborted();
    records.push(await compareChunk(c, cfg, i, range));
    opts.onProgress?.({ chunksDone: i + 1, chunksTotal: ranges.length, differenceCount: c.differenceCount });
  }
  return summarise(records, cfg, stats, { chunks: ranges.length, chunksSkipped: 0, snapshot: 'one-session', snapshotScope: 'run' });
}

/** What a run compares, so a re-run with the same id but another spec is refused. */
function fingerprintOf(spec: KeyedSpec, cfg: Settings): string {
  return createHash('sha256')
    .update(JSON.stringify({ spec, chunkRows: cfg.chunkRows }))
    .digest('hex');
}

/**
 * Checksum comparison of two databases (or two tables of one), read through
 * {@link withSnapshot}. Without `runId` the whole run reads one snapshot per
 * side (the same one on one server database). With `runId` each top-level
 * chunk is read in its own snapshot and recorded with it on the target, so a
 * re-run skips finished chunks: a resumable run spans restarts, so it cannot
 * be one instant, but each chunk is.
 */
export async function checksumTables(source: Database, target: Database, spec: KeyedSpec, opts: ChecksumRunOptions = {}): Promise<ChecksumResult> {
  const cfg = settingsOf(opts);
  if (opts.runId === undefined) {
    return withSnapshot(source, target, async (pair) => {
      const r = await checksum(pair.source, pair.target, spec, opts);
      return { ...r, snapshot: pair.mode };
    });
  }
  const runId = opts.runId;
  const stats = newStats();
  const plans: [SidePlan, SidePlan] = [await planSide(counted(source, stats), spec, 'source'), await planSide(counted(target, stats), spec, 'target')];
  await ensureVerifyState(target);
  const fingerprint = fingerprintOf(spec, cfg);
  let run = await loadRun(target, runId);
  if (run && run.fingerprint !== fingerprint) {
    throw new FerryError(
      'E_VERIFY',
      `verify run ${runId} was started with another comparison`,
      'use a new run id, or re-run with the same spec and chunk size',
    );
  }
  if (!run) {
    await startRun(target, runId, fingerprint, await topBounds(counted(source, stats), plans[0], cfg.chunkRows));
    run = await loadRun(target, runId);
    if (!run) throw new Error(`verify run ${runId} vanished after it was recorded`);
  }
  const ranges = cut(ALL_KEYS, run.bounds);
  const records = [...run.chunks.values()];
  const skipped = records.length;
  let mode: SnapshotMode = source === target ? 'one-session' : 'per-side';
  let differenceCount = records.reduce((n, r) => n + r.differenceCount, 0);
  for (const [i, range] of ranges.entries()) {
    if (run.chunks.has(i)) continue;
    opts.signal?.throwIfAborted();
    const rec = await withSnapshot(source, target, async (pair) => {
      mode = pair.mode;
      const s = counted(pair.source, stats);
      const c = comparison(s, pair.source === pair.target ? s : counted(pair.target, stats), plans, pair.source !== pair.target, cfg);
      const r = await compareChunk(c, cfg, i, range);
      await recordChunk(pair.target, runId, r);
      return r;
    });
    records.push(rec);
    differenceCount += rec.differenceCount;
    opts.onProgress?.({ chunksDone: records.length, chunksTotal: ranges.length, differenceCount });
  }
  return { ...summarise(records, cfg, stats, { chunks: ranges.length, chunksSkipped: skipped, snapshot: mode, snapshotScope: 'chunk' }), runId };
}
