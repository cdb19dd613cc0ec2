/**
 * Zero-downtime operations: each kind of schema change is one module with the
 * same small interface (expand → the parts `up` runs; contract → the parts that
 * remove the old shape). A manifest step `{"kind": "op", "op": "<name>", …}`
 * compiles to ferry steps through them.
 */
import { addColumn } from './add-column.js';
import { addEnumValue } from './add-enum-value.js';
import { addForeignKey } from './add-foreign-key.js';
import { addIndex } from './add-index.js';
import { addPrimaryKey } from './add-primary-key.js';
import { addUnique } from './add-unique.js';
import { alterColumn } from './alter-column.js';
import { changeType } from './change-type.js';
import { createEnum } from './create-enum.js';
import { createTable } from './create-table.js';
import { createType } from './create-type.js';
import { dropColumn } from './drop-column.js';
import { dropConstraint } from './drop-constraint.js';
import { dropIndex } from './drop-index.js';
import { dropTable } from './drop-table.js';
import { mergeColumns } from './merge-columns.js';
import { rawSql } from './raw-sql.js';
import { renameColumn } from './rename-column.js';
import { renameConstraint } from './rename-constraint.js';
import { renameTable } from './rename-table.js';
import { setReplicaIdentity } from './set-replica-identity.js';
import { splitColumn } from './split-column.js';
import type { Operation } from './types.js';

export { droppedByStatements } from './rollback-loss.js';
export type { BackfillPart, LockNote, Operation, OpPart, RollbackLoss, SqlPart } from './types.js';
export {
  addColumn,
  addEnumValue,
  addForeignKey,
  addIndex,
  addPrimaryKey,
  addUnique,
  alterColumn,
  changeType,
  createEnum,
  createTable,
  createType,
  dropColumn,
  dropConstraint,
  dropIndex,
  dropTable,
  mergeColumns,
  rawSql,
  renameColumn,
  renameConstraint,
  renameTable,
  setReplicaIdentity,
  splitColumn,
};

/** Every operation a manifest can name, in the order the docs list them. */
export const OPERATIONS: readonly Operation<unknown>[] = [
  addColumn,
  dropColumn,
  renameColumn,
  splitColumn,
  mergeColumns,
  changeType,
  alterColumn,
  addIndex,
  addForeignKey,
  addUnique,
  addPrimaryKey,
  dropConstraint,
  renameConstraint,
  dropIndex,
  setReplicaIdentity,
  createTable,
  renameTable,
  dropTable,
  createEnum,
  addEnumValue,
  createType,
  rawSql,
] as unknown as readonly Operation<unknown>[];

/** The operation a manifest step names with `"op"`, if there is one. */
export function operationNamed(name: string): Operation<unknown> | undefined {
  return OPERATIONS.find((o) => o.name === name);
}
