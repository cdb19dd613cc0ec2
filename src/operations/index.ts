/**
 * Zero-downtime operations: each kind of schema change is one module with the
 * same small interface (expand → the parts `up` runs; contract → the parts that
 * remove the old shape). A manifest step `{"kind": "op", "op": "<name>", …}`
 * compiles to ferry steps through them.
 */
import { addColumn } from './add-column.js';
import { addForeignKey } from './add-foreign-key.js';
import { addIndex } from './add-index.js';
import { addUnique } from './add-unique.js';
import { changeType } from './change-type.js';
import { createTable } from './create-table.js';
import { dropColumn } from './drop-column.js';
import { mergeColumns } from './merge-columns.js';
import { rawSql } from './raw-sql.js';
import { renameColumn } from './rename-column.js';
import { renameTable } from './rename-table.js';
import { splitColumn } from './split-column.js';
import type { Operation } from './types.js';

export { droppedByStatements } from './rollback-loss.js';
export type { BackfillPart, LockNote, Operation, OpPart, RollbackLoss, SqlPart } from './types.js';
export { addColumn, addForeignKey, addIndex, addUnique, changeType, createTable, dropColumn, mergeColumns, rawSql, renameColumn, renameTable, splitColumn };

/** Every operation a manifest can name, in the order the docs list them. */
export const OPERATIONS: readonly Operation<unknown>[] = [
  addColumn,
  dropColumn,
  renameColumn,
  splitColumn,
  mergeColumns,
  changeType,
  addIndex,
  addForeignKey,
  addUnique,
  createTable,
  renameTable,
  rawSql,
] as unknown as readonly Operation<unknown>[];

/** The operation a manifest step names with `"op"`, if there is one. */
export function operationNamed(name: string): Operation<unknown> | undefined {
  return OPERATIONS.find((o) => o.name === name);
}
