import { alterCommands, columnConstraints, type Node, rangeVar, relationName, unwrap } from '../tree.js';
import { onTable, type Rule } from './rule.js';

/** The constraints an ALTER TABLE adds, inline on new columns included. */
function addedConstraints(n: Node): Node[] {
  return alterCommands(n).flatMap((cmd) => {
    if (cmd.subtype === 'AT_AddConstraint') return [unwrap(cmd.def, 'Constraint')].filter((c): c is Node => c !== undefined);
    const col = unwrap(cmd.def, 'ColumnDef');
    return cmd.subtype === 'AT_AddColumn' && col ? columnConstraints(col) : [];
  });
}

/** ADD FOREIGN KEY validated at once. */
export const foreignKeyWithoutNotValid: Rule = {
  id: 'foreign-key-without-not-valid',
  severity: 'error',
  why: 'adding a foreign key checks every existing row while holding SHARE ROW EXCLUSIVE on both tables, which blocks writes to both for the whole scan.',
  fix: 'use the add-foreign-key operation: ADD CONSTRAINT … NOT VALID (brief), then VALIDATE CONSTRAINT in a later step (ShareUpdateExclusive, writes continue)',
  check({ statement, n, state }) {
    if (statement.node !== 'AlterTableStmt') return [];
    const table = rangeVar(n.relation);
    if (!table || state.isNew(table)) return [];
    return addedConstraints(n)
      .filter((c) => c.contype === 'CONSTR_FOREIGN' && !c.skip_validation)
      .map((c) => {
        const ref = rangeVar(c.pktable);
        return onTable(
          state,
          table,
          `foreign key on ${relationName(table)}${ref ? ` referencing ${relationName(ref)}` : ''} is validated at once (no NOT VALID)`,
        );
      });
  },
};

/** ADD CHECK validated at once. */
export const checkWithoutNotValid: Rule = {
  id: 'check-without-not-valid',
  severity: 'error',
  why: 'adding a CHECK constraint scans every existing row while holding ACCESS EXCLUSIVE, blocking all reads and writes for the whole scan.',
  fix: 'ADD CONSTRAINT … CHECK (…) NOT VALID (brief), then VALIDATE CONSTRAINT in a later step (ShareUpdateExclusive, reads and writes continue)',
  check({ statement, n, state }) {
    if (statement.node !== 'AlterTableStmt') return [];
    const table = rangeVar(n.relation);
    if (!table || state.isNew(table)) return [];
    return addedConstraints(n)
      .filter((c) => c.contype === 'CONSTR_CHECK' && !c.skip_validation)
      .map((c) =>
        onTable(
          state,
          table,
          `CHECK constraint ${typeof c.conname === 'string' ? `${c.conname} ` : ''}on ${relationName(table)} is validated at once (no NOT VALID)`,
        ),
      );
  },
};

/** The constraint rules. */
export const constraintRules: Rule[] = [foreignKeyWithoutNotValid, checkWithoutNotValid];
