import { volatileDefault } from '../context.js';
import { alterCommands, asList, asNode, columnConstraints, names, rangeVar, relationName, unwrap } from '../tree.js';
import { onTable, type Rule, type RuleInput } from './rule.js';

/** The ALTER TABLE subcommands of an existing table (new tables are exempt from column rules). */
function existingTableCommands({ statement, n, state }: RuleInput) {
  if (statement.node !== 'AlterTableStmt' || (n.objtype !== undefined && n.objtype !== 'OBJECT_TABLE')) return undefined;
  const table = rangeVar(n.relation);
  if (!table || state.isNew(table)) return undefined;
  return { table, name: relationName(table), cmds: alterCommands(n) };
}

/** ADD COLUMN … NOT NULL without a default: fails on any table that has rows. */
export const requiredColumnWithoutDefault: Rule = {
  id: 'required-column-without-default',
  severity: 'error',
  why: 'ADD COLUMN … NOT NULL without a DEFAULT fails as soon as the table has a row, and old application code inserting rows without the column breaks once it exists.',
  fix: 'use the add-column operation (nullable column, backfill, then a validated CHECK and SET NOT NULL), or add a constant DEFAULT',
  check(input) {
    const t = existingTableCommands(input);
    if (!t) return [];
    return t.cmds.flatMap((cmd) => {
      const col = unwrap(cmd.def, 'ColumnDef');
      if (cmd.subtype !== 'AT_AddColumn' || !col) return [];
      const cons = columnConstraints(col);
      const required = cons.some((c) => c.contype === 'CONSTR_NOTNULL' || c.contype === 'CONSTR_PRIMARY');
      const filled =
        cons.some((c) => ['CONSTR_DEFAULT', 'CONSTR_IDENTITY', 'CONSTR_GENERATED'].includes(String(c.contype))) || volatileDefault(col) !== undefined;
      return required && !filled ? [`ADD COLUMN ${String(col.colname)} on ${t.name} is NOT NULL without a DEFAULT`] : [];
    });
  },
};

/** ADD COLUMN with a volatile default (random(), gen_random_uuid(), serial …): rewrites the table under ACCESS EXCLUSIVE. */
export const volatileDefaultRule: Rule = {
  id: 'volatile-default',
  severity: 'error',
  why: 'a volatile default (random(), gen_random_uuid(), clock_timestamp(), nextval()/serial, identity) must be computed for every existing row, so ADD COLUMN rewrites the whole table while holding ACCESS EXCLUSIVE (blocks all reads and writes); constant and stable defaults such as now() do not.',
  fix: 'use the add-column operation: add the column without a default (or with a constant one), SET DEFAULT for new rows, and backfill existing rows in batches',
  check(input) {
    const t = existingTableCommands(input);
    if (!t) return [];
    return t.cmds.flatMap((cmd) => {
      const col = unwrap(cmd.def, 'ColumnDef');
      const volatile = cmd.subtype === 'AT_AddColumn' && col ? volatileDefault(col) : undefined;
      return volatile ? [onTable(input.state, t.table, `ADD COLUMN ${String(col?.colname)} on ${t.name} has a volatile default: ${volatile}`)] : [];
    });
  },
};

/** How the statement writes the new type: `varchar(20)`, `int8`. */
function typeText(typeName: unknown): string {
  const node = asNode(typeName);
  const mods = asList(node?.typmods).map((m) => {
    const ival = asNode(unwrap(m, 'A_Const')?.ival);
    return ival ? String(ival.ival ?? 0) : '?';
  });
  return `${names(node?.names).at(-1) ?? '?'}${mods.length > 0 ? `(${mods.join(',')})` : ''}`;
}

/** ALTER COLUMN … TYPE on an existing table; with a catalog, only a change that rewrites the table or rebuilds its indexes. */
export const columnTypeChange: Rule = {
  id: 'column-type-change',
  severity: 'error',
  why: "ALTER COLUMN TYPE holds ACCESS EXCLUSIVE (blocks all reads and writes) and rewrites the table and its indexes unless the change is binary-coercible (e.g. varchar(n) → text); application code reading the old type may break too. Given an environment, the linter reads the column's type from the catalog and does not flag changes PostgreSQL makes without a rewrite.",
  fix: 'use the change-type operation (new column, dual write, backfill, switch, contract)',
  check(input) {
    const t = existingTableCommands(input);
    if (!t) return [];
    return t.cmds.flatMap((cmd) => {
      if (cmd.subtype !== 'AT_AlterColumnType') return [];
      const text = `ALTER COLUMN ${String(cmd.name)} TYPE ${typeText(unwrap(cmd.def, 'ColumnDef')?.typeName)} on ${t.name}`;
      const verdict = input.state.typeChange(t.table, cmd);
      if (verdict && !verdict.rewrite) return [];
      return [onTable(input.state, t.table, verdict ? `${text} rewrites the table: ${verdict.reason}` : text, String(cmd.name))];
    });
  },
};

/** SET NOT NULL without a validated CHECK (col IS NOT NULL) first. */
export const setNotNullWithoutCheck: Rule = {
  id: 'set-not-null-without-check',
  severity: 'error',
  why: 'SET NOT NULL scans the whole table while holding ACCESS EXCLUSIVE (blocks all reads and writes), unless a validated CHECK (col IS NOT NULL) already proves it (PostgreSQL 12+).',
  fix: 'first ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, then VALIDATE CONSTRAINT (ShareUpdateExclusive, reads and writes continue), then SET NOT NULL and drop the check; the add-column operation does this',
  check(input) {
    const t = existingTableCommands(input);
    if (!t) return [];
    return t.cmds
      .filter((cmd) => cmd.subtype === 'AT_SetNotNull' && !input.state.hasValidatedNotNull(t.table, String(cmd.name)))
      .map((cmd) =>
        onTable(
          input.state,
          t.table,
          `ALTER COLUMN ${String(cmd.name)} SET NOT NULL on ${t.name} without a validated CHECK (${String(cmd.name)} IS NOT NULL) before it`,
        ),
      );
  },
};

/** DROP COLUMN on an existing table. */
export const dropColumn: Rule = {
  id: 'drop-column',
  severity: 'error',
  why: 'application code still reading or writing the column fails the moment it is gone, and the data cannot be brought back by a rollback.',
  fix: 'use the drop-column operation: stop using the column first, keep it through the deprecation period, and drop it in the contract phase',
  check(input) {
    const t = existingTableCommands(input);
    if (!t) return [];
    return t.cmds.filter((cmd) => cmd.subtype === 'AT_DropColumn').map((cmd) => `DROP COLUMN ${String(cmd.name)} from ${t.name}`);
  },
};

/** RENAME COLUMN on an existing table. */
export const renameColumn: Rule = {
  id: 'rename-column',
  severity: 'error',
  why: 'every running application instance that uses the old name fails at once; there is no moment when old and new code both work.',
  fix: 'use the rename-column operation (the new name through a compat view or a new column kept in sync, the old one removed in the contract phase)',
  check({ statement, n, state }) {
    if (statement.node !== 'RenameStmt' || n.renameType !== 'OBJECT_COLUMN') return [];
    const table = rangeVar(n.relation);
    if (!table || state.isNew(table)) return [];
    return [`RENAME COLUMN ${String(n.subname)} TO ${String(n.newname)} on ${relationName(table)}`];
  },
};

/** The column rules. */
export const columnRules: Rule[] = [requiredColumnWithoutDefault, volatileDefaultRule, columnTypeChange, setNotNullWithoutCheck, dropColumn, renameColumn];
