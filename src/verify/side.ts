import type { Queryable } from '../db/database.js';
import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { normalised, probeTypes, rowHash, type ValueType } from './normalize.js';
import type { Cohort, ColumnMapping, KeyedSpec, ResolvedColumn, TableSide } from './spec.js';

/** A key-range: rows with key > `lo` (exclusive) and ≤ `hi` (inclusive); null is unbounded. Keys are their text forms. */
export interface KeyRange {
  lo: string[] | null;
  hi: string[] | null;
}

/** The whole key space. */
export const ALL_KEYS: KeyRange = { lo: null, hi: null };

/** Collects positional parameters while a statement is built. */
export class Params {
  readonly values: unknown[] = [];
  /** Add `value`; returns its placeholder. */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** One side of a keyed comparison resolved against its own database: relation, filters, key and column SQL. */
export interface SidePlan {
  /** The quoted relation. */
  relation: string;
  /** Conditions every read of this side applies (the user's `where`, the cohort). */
  filters: string[];
  keyNames: string[];
  keyTypes: ValueType[];
  /** Key column references, `COLLATE "C"` on text-like ones, for ordering and ranges. */
  keyOrder: string[];
  columns: string[];
  /** Each compared column's normalised text (NULL stays NULL), in column order. */
  values: string[];
  /** The row hash over the key and the columns. */
  hash: string;
}

/** The quoted relation of a table side. */
export function relationOf(side: TableSide): string {
  return side.schema ? quoteQualified(side.schema, side.table) : quoteIdent(side.table);
}

/** A text[] literal of `units`, each quoted. */
const unitArray = (units: readonly string[]) => `ARRAY[${units.map(quoteLiteral).join(', ')}]::text[]`;

/**
 * The cohort's condition, the SDK's rule in SQL: never an excluded unit; an included one whenever the
 * percentage is above 0; otherwise its bucket below the percentage.
 */
export function cohortFilter(cohort: Cohort): string {
  const unit = `(${quoteIdent(cohort.unitColumn)})::text`;
  const threshold = Math.round(cohort.percent * 100);
  let test = `ferry.bucket(${quoteLiteral(cohort.flag)}, ${unit}) < ${threshold}`;
  if (cohort.include?.length && threshold > 0) test = `(${unit} = ANY (${unitArray(cohort.include)}) OR ${test})`;
  if (cohort.exclude?.length) test = `(${unit} <> ALL (${unitArray(cohort.exclude)}) AND ${test})`;
  return test;
}

/** The filters of a side: the user's condition and the cohort's test (bucket, include and exclude lists). */
export function filtersOf(side: TableSide, cohort: Cohort | undefined): string[] {
  const out: string[] = [];
  if (side.where) out.push(`(${side.where})`);
  if (cohort) out.push(cohortFilter(cohort));
  return out;
}

/** The compared columns with each side's expression. */
export function resolveColumns(columns: readonly ColumnMapping[]): ResolvedColumn[] {
  return columns.map((c) => {
    if (typeof c === 'string') return { name: c, source: quoteIdent(c), target: quoteIdent(c) };
    return { name: c.name, source: c.source ?? quoteIdent(c.name), target: c.target ?? quoteIdent(c.name) };
  });
}

/** Resolve one side of `spec` against `db`: probe the types of its key and columns and build the normalised row hash. */
export async function planSide(db: Queryable, spec: KeyedSpec, which: 'source' | 'target'): Promise<SidePlan> {
  const side = spec[which];
  const relation = relationOf(side);
  const columns = resolveColumns(spec.columns);
  const keyRefs = spec.key.map((k) => quoteIdent(k));
  const exprs = columns.map((c) => c[which]);
  const types = await probeTypes(db, relation, [...keyRefs, ...exprs]);
  const keyTypes = types.slice(0, keyRefs.length);
  const colTypes = types.slice(keyRefs.length);
  const keyTexts = keyRefs.map((k, i) => normalised(k, keyTypes[i]!));
  const values = exprs.map((e, i) => normalised(e, colTypes[i]!));
  return {
    relation,
    filters: filtersOf(side, spec.cohort),
    keyNames: [...spec.key],
    keyTypes,
    keyOrder: keyRefs.map((k, i) => (keyTypes[i]!.collatable ? `${k} COLLATE "C"` : k)),
    columns: columns.map((c) => c.name),
    values,
    hash: rowHash([...keyTexts, ...values]),
  };
}

/** `$n::type`, collated like the key column it is compared with. */
function keyParam(p: SidePlan, i: number, value: string, params: Params): string {
  const t = p.keyTypes[i]!;
  return `${params.add(value)}::${t.type}${t.collatable ? ' COLLATE "C"' : ''}`;
}

/** Row-value comparison of the key with a bound: `(k1, k2) > ($1, $2)`. */
export function keyCompare(p: SidePlan, op: '>' | '<=', bound: readonly string[], params: Params): string {
  const rhs = bound.map((v, i) => keyParam(p, i, v, params));
  if (rhs.length === 1) return `${p.keyOrder[0]} ${op} ${rhs[0]}`;
  return `(${p.keyOrder.join(', ')}) ${op} (${rhs.join(', ')})`;
}

/** The WHERE clause of a side restricted to `range` (always starts with WHERE; `true` when nothing filters). */
export function whereOf(p: SidePlan, range: KeyRange, params: Params): string {
  const conds = [...p.filters];
  if (range.lo) conds.push(keyCompare(p, '>', range.lo, params));
  if (range.hi) conds.push(keyCompare(p, '<=', range.hi, params));
  return `WHERE ${conds.length ? conds.join(' AND ') : 'true'}`;
}

/** Condition: the key is one of `keys` (text forms), via `unnest` of one typed array per key column. */
export function keyIn(p: SidePlan, keys: readonly string[][], params: Params): string {
  const arrays = p.keyTypes.map((t, i) => `${params.add(keys.map((k) => k[i]))}::${t.type}[]`);
  const cols = p.keyNames.map((k) => quoteIdent(k));
  return `(${cols.join(', ')}) IN (SELECT * FROM unnest(${arrays.join(', ')}))`;
}

/** Select list of the key as text, aliased k0, k1, … */
export function keySelect(p: SidePlan): string {
  return p.keyNames.map((k, i) => `(${quoteIdent(k)})::text AS k${i}`).join(', ');
}

/** The key of a fetched row (aliased by {@link keySelect}) as text values. */
export function keyOfRow(p: SidePlan, row: Record<string, unknown>): string[] {
  return p.keyNames.map((_, i) => String(row[`k${i}`]));
}
