import type { Queryable } from './database.js';

/** A foreign key between two tables (partitioned tables by their root), its columns in order. */
export interface ForeignKey {
  name: string;
  child: number;
  parent: number;
  childColumns: string[];
  parentColumns: string[];
}

/** Every foreign key of the database (not the copies PostgreSQL keeps on partitions). */
export async function foreignKeys(db: Queryable): Promise<ForeignKey[]> {
  const { rows } = await db.query<{ name: string; child: number; parent: number; child_columns: string[]; parent_columns: string[] }>(
    `SELECT c.conname AS name, c.conrelid::int AS child, c.confrelid::int AS parent,
            array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i) AS child_columns,
            array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY k(n, i) JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) AS parent_columns
       FROM pg_constraint c WHERE c.contype = 'f' AND c.conparentid = 0 ORDER BY c.conname`,
  );
  return rows.map((r) => ({ name: r.name, child: r.child, parent: r.parent, childColumns: r.child_columns, parentColumns: r.parent_columns }));
}

/** `tables` and every table they reference through foreign keys, directly or not. */
export function withReferenced(tables: readonly number[], keys: readonly ForeignKey[]): number[] {
  const out = new Set(tables);
  const todo = [...tables];
  for (let t = todo.pop(); t !== undefined; t = todo.pop()) {
    for (const k of keys) {
      if (k.child === t && !out.has(k.parent)) {
        out.add(k.parent);
        todo.push(k.parent);
      }
    }
  }
  return [...out];
}

/** `tables` ordered so that a referenced table comes before the tables referencing it (a cycle is broken where it is found). */
export function parentsFirst(tables: readonly number[], keys: readonly ForeignKey[]): number[] {
  const order: number[] = [];
  const seen = new Set<number>();
  const visit = (t: number) => {
    if (seen.has(t)) return;
    seen.add(t);
    for (const k of keys) if (k.child === t && k.parent !== t && tables.includes(k.parent)) visit(k.parent);
    order.push(t);
  };
  for (const t of tables) visit(t);
  return order;
}
