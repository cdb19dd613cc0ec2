import { quoteIdent } from '../db/quote.js';
import { type BackfillPlan, keyList } from './plan.js';

/** The key bounds of one batch: values as text, exclusive below, inclusive above; null means open. */
export interface KeyBounds {
  after: string[] | null;
  upTo: string[] | null;
}

/**
 * The comment every statement a backfill sends to the user's table begins with:
 * PostgreSQL keeps it in pg_stat_statements' text, so the pacer's reading of the
 * application's statements leaves the backfill's own out (see statement-latency.ts).
 */
export const OWN_STATEMENT_TAG = '/* ferry backfill */';
const own = (text: string) => `${OWN_STATEMENT_TAG} ${text}`;

/** A statement and its parameters. */
export interface Sql {
  text: string;
  params: unknown[];
}

/** `(k1, k2) > ($n::t1, $m::t2) AND (…) <= (…)`: the keyset condition (never OFFSET), parameters from `params.length + 1`. */
function boundsCondition(plan: BackfillPlan, b: KeyBounds, params: unknown[]): string {
  const row = (values: string[]) =>
    `(${values
      .map((v, i) => {
        params.push(v);
        return `$${params.length}::${(plan.key[i] as { type: string }).type}`;
      })
      .join(', ')})`;
  const parts: string[] = [];
  if (b.after) parts.push(`(${keyList(plan)}) > ${row(b.after)}`);
  if (b.upTo) parts.push(`(${keyList(plan)}) <= ${row(b.upTo)}`);
  return parts.length ? parts.join(' AND ') : 'true';
}

const order = (plan: BackfillPlan, alias: string, dir = '') => plan.key.map((k) => `${alias}.${quoteIdent(k.name)}${dir}`).join(', ');
const keyText = (plan: BackfillPlan, alias: string) => `ARRAY[${plan.key.map((k) => `${alias}.${quoteIdent(k.name)}::text`).join(', ')}]`;

/** Key types (as format_type spells them) whose max() is the last value of their ORDER BY, with the same collation. */
const MAX_ORDERED = /^(smallint|integer|bigint|numeric(\(\d+(,\d+)?\))?|text|character varying(\(\d+\))?|date|timestamp(\(\d\))? with(out)? time zone)$/;

/**
 * Where the next batch ends: walk the next `limit` keys after `b.after` (up to
 * `b.upTo`) in the key's index and return how many there are (`walked`) and
 * the last one (`last_key`, null when none is left). Reads no row of the heap
 * and locks nothing; {@link rangeUpdate} then fills up to that key.
 */
export function batchEnd(plan: BackfillPlan, b: KeyBounds, limit: number): Sql {
  const params: unknown[] = [limit];
  const cond = boundsCondition(plan, b, params);
  const only = plan.key.length === 1 ? plan.key[0] : undefined;
  if (only && MAX_ORDERED.test(only.type)) {
    // One key column whose max() agrees with its ORDER BY: count and max over the walk, nothing kept or sorted (4× cheaper than below).
    const k = quoteIdent(only.name);
    const text = own(`SELECT count(*)::int AS walked, CASE WHEN count(*) > 0 THEN ARRAY[max(b.${k})::text] END AS last_key
    FROM (SELECT ${k} FROM ${plan.table} WHERE ${cond} ORDER BY ${k} LIMIT $1) b`);
    return { text, params };
  }
  const text = own(`WITH batch AS MATERIALIZED (
    SELECT ${keyList(plan)} FROM ${plan.table} WHERE ${cond} ORDER BY ${keyList(plan)} LIMIT $1
  )
  SELECT (SELECT count(*) FROM batch)::int AS walked,
         (SELECT ${keyText(plan, 'b')} FROM batch b ORDER BY ${order(plan, 'b', ' DESC')} LIMIT 1) AS last_key`);
  return { text, params };
}

/**
 * Fill the rows of one batch, given as the key range `(b.after, b.upTo]` (from
 * {@link batchEnd}), that still match the predicate: one UPDATE scanning the
 * key's index over the range, with no join against a key list. Rows written
 * concurrently are rechecked by PostgreSQL against the range and the predicate
 * before they are updated. The SET expressions and predicate are the
 * migration author's SQL (checked to be single expressions), inlined like a
 * migration file; every value is a parameter. Rows updated: `affectedRows`.
 */
export function rangeUpdate(plan: BackfillPlan, set: Record<string, string>, predicate: string, b: KeyBounds): Sql {
  const params: unknown[] = [];
  const cond = boundsCondition(plan, b, params);
  const assignments = Object.entries(set)
    .map(([c, e]) => `${quoteIdent(c)} = (\n${e}\n)`)
    .join(', ');
  return { text: own(`UPDATE ${plan.table} SET ${assignments} WHERE ${cond} AND (${predicate})`), params };
}

/** The forward predicate of a step, parenthesised so an inlined comment cannot swallow what follows. */
export const todoPredicate = (where: string) => `(\n${where}\n)`;

/** Rows a rollback undoes: those the forward fill has done (its predicate is not true for them). */
export const doneRowsPredicate = (where: string) => `(\n${where}\n) IS NOT TRUE`;

/** Column aliases ferry adds to rows it reads for a TypeScript transform. */
export const KEY_ALIAS = '__ferry_key';
export const TODO_ALIAS = '__ferry_todo';

/** The rows of one batch for a TypeScript transform, locked so no concurrent write is overwritten with stale values. */
export function rowsBatch(plan: BackfillPlan, predicate: string, b: KeyBounds, limit: number): Sql {
  const params: unknown[] = [limit];
  const cond = boundsCondition(plan, b, params);
  const text = own(`SELECT ${keyText(plan, plan.table)} AS ${KEY_ALIAS}, (${predicate}) IS TRUE AS ${TODO_ALIAS}, ${plan.table}.*
      FROM ${plan.table} WHERE ${cond} ORDER BY ${keyList(plan)} LIMIT $1 FOR UPDATE`);
  return { text, params };
}

/**
 * Write new values for rows given by key: one jsonb parameter, an array of
 * objects with the key columns and `columns`, typed by the table's own row type.
 */
export function writeRows(plan: BackfillPlan, columns: string[], rows: Record<string, unknown>[]): Sql {
  const set = columns.map((c) => `${quoteIdent(c)} = v.${quoteIdent(c)}`).join(', ');
  const text = own(`UPDATE ${plan.table} SET ${set} FROM jsonb_populate_recordset(NULL::${plan.table}, $1::jsonb) AS v
     WHERE (${keyList(plan, plan.table)}) = (${keyList(plan, 'v')})`);
  return { text, params: [JSON.stringify(rows, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))] };
}

/** The keys of one batch and each row as JSON, for naming the row a data error came from. */
export function batchRows(plan: BackfillPlan, b: KeyBounds, limit: number): Sql {
  const params: unknown[] = [limit];
  const cond = boundsCondition(plan, b, params);
  const text = own(`SELECT ${keyText(plan, plan.table)} AS key, to_jsonb(${plan.table}.*)::text AS row
      FROM ${plan.table} WHERE ${cond} ORDER BY ${keyList(plan)} LIMIT $1`);
  return { text, params };
}

/** Describe a key for a human: `(id)=(42)` like PostgreSQL's own messages. */
export function describeKey(plan: BackfillPlan, key: readonly unknown[]): string {
  return `(${plan.key.map((k) => k.name).join(', ')})=(${key.map(String).join(', ')})`;
}
