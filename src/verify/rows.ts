import type { Queryable } from '../db/database.js';
import type { RowDifference, RowValues } from './result.js';
import { type KeyRange, keyIn, keyOfRow, keySelect, Params, type SidePlan, whereOf } from './side.js';

/** One keyed comparison in progress: both sides' sessions and plans, and the differences found so far. */
export interface Comparison {
  source: Queryable;
  target: Queryable;
  sourcePlan: SidePlan;
  targetPlan: SidePlan;
  /** The sides are separate sessions and may be queried at the same time. */
  parallel: boolean;
  /** Differences beyond this many are counted but their values not fetched. */
  maxDifferences: number;
  differences: RowDifference[];
  differenceCount: number;
}

/** Run `f` on both sides, at once when they are separate sessions. */
export async function onBoth<T>(c: Comparison, f: (q: Queryable, p: SidePlan) => Promise<T>): Promise<[T, T]> {
  if (c.parallel) return Promise.all([f(c.source, c.sourcePlan), f(c.target, c.targetPlan)]);
  const s = await f(c.source, c.sourcePlan);
  return [s, await f(c.target, c.targetPlan)];
}

/** Key (as JSON of its texts) → the hashes of the rows with that key (more than one only when a side has duplicates). */
type Hashes = Map<string, { key: string[]; hashes: string[] }>;

async function fetchHashes(q: Queryable, p: SidePlan, cond: (params: Params) => string): Promise<Hashes> {
  const params = new Params();
  const { rows } = await q.query<Record<string, unknown>>(`SELECT ${keySelect(p)}, (${p.hash})::text AS h FROM ${p.relation} ${cond(params)}`, params.values);
  const out: Hashes = new Map();
  for (const r of rows) {
    const key = keyOfRow(p, r);
    const id = JSON.stringify(key);
    const e = out.get(id);
    if (e) e.hashes.push(String(r.h));
    else out.set(id, { key, hashes: [String(r.h)] });
  }
  return out;
}

/** The normalised values of the rows with `keys` on one side, by key. */
async function fetchValues(q: Queryable, p: SidePlan, keys: string[][]): Promise<Map<string, RowValues>> {
  const params = new Params();
  const cond = [...p.filters, keyIn(p, keys, params)].join(' AND ');
  const cols = p.values.map((v, i) => `${v} AS c${i}`);
  const { rows } = await q.query<Record<string, unknown>>(`SELECT ${[keySelect(p), ...cols].join(', ')} FROM ${p.relation} WHERE ${cond}`, params.values);
  const out = new Map<string, RowValues>();
  for (const r of rows) {
    const values: RowValues = {};
    p.columns.forEach((name, i) => {
      const v = r[`c${i}`];
      values[name] = v === null || v === undefined ? null : String(v);
    });
    out.set(JSON.stringify(keyOfRow(p, r)), values);
  }
  return out;
}

const sameMultiset = (a: string[], b: string[]) => a.length === b.length && [...a].sort().join() === [...b].sort().join();

/** Compare key → hash maps of both sides; record every difference, fetching both sides' values for as many as kept. */
async function record(c: Comparison, s: Hashes, t: Hashes): Promise<void> {
  const differing: { key: string[]; kind: RowDifference['kind'] }[] = [];
  for (const [id, e] of s) {
    const o = t.get(id);
    if (!o) differing.push({ key: e.key, kind: 'missing' });
    else if (!sameMultiset(e.hashes, o.hashes)) differing.push({ key: e.key, kind: 'changed' });
  }
  for (const [id, e] of t) if (!s.has(id)) differing.push({ key: e.key, kind: 'extra' });
  c.differenceCount += differing.length;
  const kept = differing.slice(0, Math.max(0, c.maxDifferences - c.differences.length));
  if (kept.length === 0) return;
  const keys = kept.map((d) => d.key);
  const [sv, tv] = await onBoth(c, (q, p) => fetchValues(q, p, keys));
  for (const d of kept) {
    const id = JSON.stringify(d.key);
    const source = sv.get(id) ?? null;
    const target = tv.get(id) ?? null;
    const names = c.sourcePlan.columns;
    const columns = source && target ? names.filter((n) => source[n] !== target[n]) : [...names];
    const key = Object.fromEntries(c.sourcePlan.keyNames.map((k, i) => [k, d.key[i] ?? '']));
    c.differences.push({ kind: d.kind, key, columns, source, target });
  }
}

/** Compare every row of `range` on both sides by key and hash (a leaf of the bisection: only keys and hashes travel). */
export async function compareLeaf(c: Comparison, range: KeyRange): Promise<void> {
  const [s, t] = await onBoth(c, (q, p) => fetchHashes(q, p, (params) => whereOf(p, range, params)));
  await record(c, s, t);
}

/** Compare the rows with `keys` on both sides (a sample): keys missing from the target show as `missing`. */
export async function compareKeys(c: Comparison, keys: string[][]): Promise<void> {
  if (keys.length === 0) return;
  const [s, t] = await onBoth(c, (q, p) => fetchHashes(q, p, (params) => `WHERE ${[...p.filters, keyIn(p, keys, params)].join(' AND ')}`));
  await record(c, s, t);
}
