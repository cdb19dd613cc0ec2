import type { Migration } from '../migration/loader.js';
import { tableRef, viewSchemas } from '../operations/compat.js';
import { operationNamed } from '../operations/index.js';

/**
 * Which schemas an application version reads its tables through: the old-shape views (`ferry_v1_<table>`)
 * for units on the old path, the new-shape views (`ferry_v2_<table>`) for the new cohort, then the base
 * schema. `compat.searchPath` puts them first on the connection's search_path.
 */
export interface AppShape {
  /** The flag that picks the cohort. */
  flag: string;
  /** The view schemas of the old shape, one per table the migration publishes views of. */
  old: string[];
  /** The view schemas of the new shape, in the same order. */
  new: string[];
  /** The schemas after the views. */
  base: string[];
}

/**
 * The application's shape for `m`: the view schemas its operations publish (drop, rename, split, merge,
 * change-type publish the old and the new shape as views), or null when it names no flag or publishes none.
 */
export function appShape(m: Migration): AppShape | null {
  const flag = m.manifest.flag;
  if (!flag) return null;
  const seen = new Map<string, { old: string; new: string }>();
  for (const s of m.steps) {
    const op = s.operation;
    if (!op?.spec) continue;
    const effect = operationNamed(op.op)?.columns?.(op.spec);
    if (!effect?.views) continue;
    const t = tableRef(effect.table);
    const key = `${t.schema}.${t.name}`;
    // A migration has one pair of views per table (composition refuses two): the first op names them.
    if (!seen.has(key)) seen.set(key, viewSchemas(t, effect.compat));
  }
  if (seen.size === 0) return null;
  const pairs = [...seen.values()];
  return { flag, old: pairs.map((p) => p.old), new: pairs.map((p) => p.new), base: ['public'] };
}
