import type { Queryable } from '../db/database.js';

/** What the catalog says about one compared expression's type (domains resolved to their base type). */
export interface ValueType {
  /** `format_type` of the type, usable in a cast (`$1::<type>`). */
  type: string;
  /** pg_type.typname of the base type, e.g. `timestamptz`, `numeric`. */
  name: string;
  /** Text-like: compared `COLLATE "C"` so both databases order it identically. */
  collatable: boolean;
}

/** Fixed-precision ISO text of a timestamp: microseconds, no zone. */
const TS_FORMAT = `'YYYY-MM-DD"T"HH24:MI:SS.US'`;

/**
 * The types of `exprs` evaluated over `relation`, from the catalog: a LEFT JOIN
 * on false gives one all-NULL row, so even an empty table yields every type.
 */
export async function probeTypes(db: Queryable, relation: string, exprs: readonly string[]): Promise<ValueType[]> {
  if (exprs.length === 0) return [];
  const typeofs = exprs.map((e) => `pg_typeof(${e})::oid`).join(', ');
  const { rows } = await db.query<{ type: string; name: string; collatable: boolean }>(
    `WITH p AS (SELECT ARRAY[${typeofs}] AS a FROM (VALUES (1)) AS ferry_probe(ferry_probe_) LEFT JOIN ${relation} ON false)
     SELECT format_type(b.oid, NULL) AS type, b.typname::text AS name, b.typcollation <> 0 AS collatable
       FROM p CROSS JOIN LATERAL unnest(p.a) WITH ORDINALITY AS u(o, i)
       JOIN pg_type t ON t.oid = u.o
       JOIN pg_type b ON b.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
      ORDER BY u.i`,
  );
  if (rows.length !== exprs.length) throw new Error(`could not resolve the types of ${exprs.join(', ')} on ${relation}`);
  return rows;
}

/**
 * SQL text of `expr` in a canonical form, so equal values never differ by
 * representation: timestamptz as UTC, timestamps and dates in one fixed format,
 * numeric without trailing zeros (1.50 = 1.5), floats through float8 (and
 * -0 = 0), json as jsonb, bytea as hex, intervals as seconds. NULL stays NULL.
 */
export function normalised(expr: string, t: ValueType): string {
  const x = `(${expr})`;
  switch (t.name) {
    case 'timestamptz':
      // to_char gives NULL for ±infinity; fall back to the plain text there.
      return `coalesce(to_char(${x} AT TIME ZONE 'UTC', ${TS_FORMAT}), ${x}::text)`;
    case 'timestamp':
      return `coalesce(to_char(${x}, ${TS_FORMAT}), ${x}::text)`;
    case 'date':
      return `coalesce(to_char(${x}, 'YYYY-MM-DD'), ${x}::text)`;
    case 'numeric':
      return `trim_scale(${x})::text`;
    case 'float4':
    case 'float8':
      return `(${x}::float8 + 0)::text`;
    case 'json':
      return `${x}::jsonb::text`;
    case 'bytea':
      return `encode(${x}, 'hex')`;
    case 'interval':
      return `extract(epoch FROM ${x})::text`;
    default:
      return `${x}::text`;
  }
}

/**
 * One value's self-delimiting encoding for hashing: NULL as `\N`, anything else
 * as `<length>:<text>`, so NULL ≠ '' and no two column lists run together.
 */
export function encoded(normalisedText: string): string {
  return `coalesce(length(${normalisedText})::text || ':' || ${normalisedText}, '\\N')`;
}

/**
 * The 64-bit row hash: the first 16 hex digits of md5 over the concatenated
 * encodings, as a bigint. Summed (never xored, so duplicates do not cancel) it
 * is the order-independent fingerprint of a set of rows.
 */
export function rowHash(normalisedTexts: readonly string[]): string {
  return `('x' || substr(md5(${normalisedTexts.map(encoded).join(' || ')}), 1, 16))::bit(64)::bigint`;
}
