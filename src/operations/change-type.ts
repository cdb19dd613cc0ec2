import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import {
  boundedName,
  columnCheck,
  columnName,
  compatField,
  contractLocks,
  doBlock,
  dropSync,
  dropViews,
  hasColumn,
  previousContract,
  sqlExpression,
  sqlType,
  syncPart,
  type TableRef,
  tableName,
  tableRef,
  unsyncedRows,
  viewProblems,
  viewSchemas,
  viewsGone,
  viewsPart,
} from './compat.js';
import type { Operation, SqlPart } from './types.js';
import { addColumns, canonicalType, tableProblems } from './virtual-schema.js';

const schema = z.strictObject({
  table: tableName.describe('The table: `users` or `schema.users`.'),
  column: columnName.describe('The column whose type changes.'),
  type: sqlType.describe('The new SQL type.'),
  using: sqlExpression.describe('Expression over the row computing the new value from the old column, e.g. `amount::bigint`.'),
  reverse: sqlExpression.describe("Expression computing the old value from the new one, which it reads under the column's own name."),
  compat: compatField,
});

/** The fields of a `change-type` step. */
export type ChangeTypeSpec = z.output<typeof schema>;

/** The column of the new type that lives beside the old one until contract: `<column>__ferry_new`. */
export const shadowColumn = (column: string): string => boundedName(column, '_ferry_new');

const notNullCheck = (t: TableRef, column: string) => boundedName(t.name, column, 'ferry_nn');
const attribute = (t: TableRef, column: string, field: string) =>
  `(SELECT ${field} FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = ${t.oid} AND a.attname = ${quoteLiteral(column)})`;
const checkExists = (t: TableRef, name: string, extra = '') =>
  `EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.oid} AND conname = ${quoteLiteral(name)}${extra})`;

/** A literal cast to its type, as pg_get_expr shows a constant default: `'0'::text`, `'a''b'::character varying`; group 1 is the literal. */
const CAST_LITERAL = "^('(?:[^']|'')*')::[^']+$";

/**
 * The contract part that leaves the column's default as the user wrote it, not
 * as swap-columns carries it over (`'0'::text::integer`, the old default cast).
 * After the swap it rewrites that cast in plain form; run before the swap (a
 * composed contract swaps in a later step) it gives the shadow the plain default
 * and takes the old column's, so the swap carries nothing. A separate part, so
 * the parts applied by earlier ferries stay what they were. Plain form: a
 * constant (`'0'::text`) as its bare literal read in the new type (`0`), else the
 * expression assigned as it is (`0` to a bigint); else it stays a cast.
 */
function plainDefaultPart(t: TableRef, s: ChangeTypeSpec): SqlPart {
  const shadow = shadowColumn(s.column);
  const set = (what: string, expr: string) => `EXECUTE format('ALTER TABLE %s ALTER COLUMN %I SET DEFAULT %s', ${quoteLiteral(t.sql)}, ${what}, ${expr});`;
  const body = `  IF ${hasColumn(t, shadow)} THEN
    target := ${quoteLiteral(shadow)};
    expr := ${attribute(t, s.column, 'pg_get_expr(d.adbin, d.adrelid)')};
    IF expr IS NULL THEN
      RETURN;
    END IF;
    EXECUTE format('ALTER TABLE %s ALTER COLUMN %I DROP DEFAULT', ${quoteLiteral(t.sql)}, ${quoteLiteral(s.column)});
  ELSE
    target := ${quoteLiteral(s.column)};
    expr := ${attribute(t, s.column, 'pg_get_expr(d.adbin, d.adrelid)')};
    suffix := '::' || ${attribute(t, s.column, 'format_type(a.atttypid, a.atttypmod)')};
    IF expr IS NULL OR right(expr, length(suffix)) <> suffix THEN
      RETURN;
    END IF;
    expr := left(expr, length(expr) - length(suffix));
    IF expr LIKE '(%)' THEN
      expr := substr(expr, 2, length(expr) - 2);
    END IF;
  END IF;
  lit := substring(expr from ${quoteLiteral(CAST_LITERAL)});
  BEGIN
    IF lit IS NULL THEN
      RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value';
    END IF;
    ${set('target', 'lit')}
  EXCEPTION WHEN OTHERS THEN
    BEGIN
      ${set('target', 'expr')}
    EXCEPTION WHEN OTHERS THEN
      IF target = ${quoteLiteral(shadow)} THEN
        ${set('target', `format('(%s)::%s', expr, ${quoteLiteral(s.type)})`)}
      END IF;
    END;
  END;`;
  return {
    kind: 'sql',
    name: 'plain-default',
    description: `write the default of ${s.column} as it was written, not as a cast of the old column's`,
    transaction: true,
    forward: [doBlock(body, 'target text;\n  expr text;\n  lit text;\n  suffix text;')],
    rollback: [],
    verify: [`SELECT NOT ${hasColumn(t, shadow)} OR ${attribute(t, s.column, 'd.adbin IS NULL')}`],
    locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'SET DEFAULT, until commit; catalog only, milliseconds' }],
  };
}

/**
 * Change a column's type without a table rewrite under lock: expand adds a
 * shadow column of the new type, syncs both ways with a trigger, backfills, and
 * publishes the old column (v1 view) and the shadow under the column's name (v2
 * view); contract carries NOT NULL and the default over, drops the old column
 * and renames the shadow into its place, then writes the default as the user
 * wrote it.
 */
export const changeType: Operation<ChangeTypeSpec> = {
  name: 'change-type',
  // Its contract swaps the shadow column in — drop the old, rename the new — both already behind the v2 view.
  handles: ['drop-column', 'rename-column'],
  schema,
  describe: (s) => `change ${s.table}.${s.column} to type ${s.type}`,
  expand(s) {
    const t = tableRef(s.table);
    const shadow = shadowColumn(s.column);
    return [
      {
        kind: 'sql',
        name: 'add-shadow',
        description: `add nullable ${shadow} ${s.type} to ${s.table}`,
        transaction: true,
        forward: [`ALTER TABLE ${t.sql} ADD COLUMN ${quoteIdent(shadow)} ${s.type}`],
        rollback: [`ALTER TABLE ${t.sql} DROP COLUMN IF EXISTS ${quoteIdent(shadow)}`],
        verify: [columnCheck(t, shadow)],
        locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'ADD COLUMN without default, until commit; catalog only, milliseconds' }],
      },
      syncPart({
        t,
        key: s.column,
        oldColumns: [s.column],
        forward: [{ column: shadow, type: s.type, expr: s.using }],
        backward: [{ column: s.column, expr: s.reverse }],
        // The old value is computed from the new one, which the expression reads under the column's own name.
        backwardColumns: { [s.column]: shadow },
      }),
      {
        kind: 'backfill',
        name: 'backfill',
        description: `compute ${shadow} of existing rows from ${s.column}`,
        backfill: { table: s.table, set: { [shadow]: s.using }, where: unsyncedRows([s.column], [shadow]) },
      },
      viewsPart(t, viewSchemas(t, s.compat), { hide: [shadow] }, { hide: [shadow], replace: { [s.column]: shadow } }, [
        `SELECT NOT EXISTS (SELECT 1 FROM ${t.sql} WHERE ${unsyncedRows([s.column], [shadow])})`,
      ]),
    ];
  },
  contract(s) {
    const t = tableRef(s.table);
    const schemas = viewSchemas(t, s.compat);
    const shadow = shadowColumn(s.column);
    const check = notNullCheck(t, s.column);
    const views = dropViews(t, schemas);
    const alter = (what: string) => `EXECUTE format('ALTER TABLE %s ${what}', ${quoteLiteral(t.sql)}`;
    const swap = [
      doBlock(
        `  def := ${attribute(t, s.column, 'pg_get_expr(d.adbin, d.adrelid)')};
  IF def IS NOT NULL THEN
    ${alter('ALTER COLUMN %I SET DEFAULT (%s)::%s')}, ${quoteLiteral(shadow)}, def, ${quoteLiteral(s.type)});
  END IF;`,
        'def text;',
      ),
      `ALTER TABLE ${t.sql} DROP COLUMN ${quoteIdent(s.column)}`,
      `ALTER TABLE ${t.sql} RENAME COLUMN ${quoteIdent(shadow)} TO ${quoteIdent(s.column)}`,
      doBlock(`  IF ${checkExists(t, check)} THEN
    ${alter('ALTER COLUMN %I SET NOT NULL')}, ${quoteLiteral(s.column)});
    ${alter('DROP CONSTRAINT %I')}, ${quoteLiteral(check)});
  END IF;`),
    ];
    const swapPart: SqlPart = {
      kind: 'sql',
      name: 'swap-columns',
      description: `drop the views, the sync trigger and the old ${s.column}; rename ${shadow} to ${s.column}`,
      transaction: true,
      forward: [...views.slice(0, 2), ...dropSync({ t, key: s.column }), ...swap, ...views.slice(2)],
      rollback: [],
      verify: [
        columnCheck(t, shadow, false),
        `SELECT format_type(${attribute(t, s.column, 'a.atttypid')}, NULL) = format_type(${quoteLiteral(s.type)}::regtype, NULL)`,
        viewsGone(t, schemas),
      ],
      locks: contractLocks(t, schemas, 'DROP TRIGGER, DROP COLUMN, RENAME COLUMN and SET NOT NULL (proved by the validated check, no scan), until commit'),
      compose: { role: 'reshape', statements: swap },
    };
    return [
      {
        kind: 'sql',
        name: 'not-null-check',
        description: `if ${s.column} is NOT NULL: an unvalidated CHECK (${shadow} IS NOT NULL), so SET NOT NULL needs no scan later`,
        transaction: true,
        forward: [
          doBlock(`  IF ${attribute(t, s.column, 'a.attnotnull')} AND NOT ${checkExists(t, check)} THEN
    ${alter('ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID')}, ${quoteLiteral(check)}, ${quoteLiteral(shadow)});
  END IF;`),
        ],
        rollback: [`ALTER TABLE ${t.sql} DROP CONSTRAINT IF EXISTS ${quoteIdent(check)}`],
        // Still true once swap-columns has replaced the check by NOT NULL and the shadow is gone.
        verify: [`SELECT NOT ${attribute(t, s.column, 'a.attnotnull')} OR ${checkExists(t, check)} OR NOT ${hasColumn(t, shadow)}`],
        locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'ADD CONSTRAINT … NOT VALID, until commit; catalog only, milliseconds' }],
      },
      {
        kind: 'sql',
        name: 'not-null-validate',
        description: `validate the NOT NULL check of ${shadow}, if any (a scan that does not block writes)`,
        transaction: true,
        forward: [
          doBlock(`  IF ${checkExists(t, check, ' AND NOT convalidated')} THEN\n    ${alter('VALIDATE CONSTRAINT %I')}, ${quoteLiteral(check)});\n  END IF;`),
        ],
        rollback: [],
        verify: [`SELECT NOT ${checkExists(t, check, ' AND NOT convalidated')}`],
        locks: [{ relation: s.table, mode: 'ShareUpdateExclusiveLock', held: 'VALIDATE CONSTRAINT, for one scan of the table; reads and writes go on' }],
      },
      { ...swapPart, previous: previousContract(swapPart, { t, key: s.column }) },
      plainDefaultPart(t, s),
    ];
  },
  columns: (s) => ({
    table: s.table,
    views: true,
    compat: s.compat,
    hides: [],
    retypes: [{ column: s.column, shadow: shadowColumn(s.column), type: s.type }],
    adds: [],
  }),
  stored: (s, n) => ({ ...s, column: n.column(s.column), using: n.expression(s.using), reverse: n.expression(s.reverse) }),
  check(s, schema) {
    const problems = [...tableProblems(schema, s.table, { has: [s.column], lacks: [shadowColumn(s.column)] }), ...viewProblems(schema, s.table, s.compat)];
    const key = schema.keyOf(s.table);
    const current = schema.known(key)?.columns.get(s.column)?.type;
    if (current !== undefined && canonicalType(current) === canonicalType(s.type)) problems.push(`column "${s.column}" of table ${key} is already ${current}`);
    return problems;
  },
  apply: (s, schema) => addColumns(schema, s.table, [[shadowColumn(s.column), { type: canonicalType(s.type), notNull: false }]]),
  // The sync trigger writes every new-shape value back into the old column(s): rolling back loses nothing.
  rollbackLoss: () => [],
};
