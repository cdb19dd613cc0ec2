import type { Queryable } from '../db/database.js';
import { ALL_KEYS, Params, planSide, whereOf } from './side.js';
import type { KeyedSpec } from './spec.js';

/** The order-independent fingerprint of one side's rows: count and sum of the normalised row hashes. */
export interface TableFingerprint {
  rows: number;
  /** Sum of the 64-bit row hashes, as decimal text. */
  sum: string;
}

/**
 * The fingerprint of one side of `spec` in one scan — what a checksum compares
 * per chunk, over the whole table. Equal fingerprints mean equal row sets (up to
 * a 64-bit hash collision); the bare cost a checksum comparison is measured against.
 */
export async function fingerprint(db: Queryable, spec: KeyedSpec, which: 'source' | 'target'): Promise<TableFingerprint> {
  const p = await planSide(db, spec, which);
  const params = new Params();
  const { rows } = await db.query<{ n: string; s: string }>(
    `SELECT count(*)::text AS n, coalesce(sum(${p.hash}), 0)::text AS s FROM ${p.relation} ${whereOf(p, ALL_KEYS, params)}`,
    params.values,
  );
  return { rows: Number(rows[0]?.n ?? 0), sum: rows[0]?.s ?? '0' };
}
