import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { boundedName, columnCheck, columnName, sqlExpression, sqlType, type TableRef, tableName, tableRef } from './compat.js';
import type { Operation, OpPart, SqlPart } from './types.js';
import { addColumns, canonicalType, tableProblems } from './virtual-schema.js';

/** Functions that give each row its own value; ADD COLUMN with one as default would rewrite the table under lock. */
const VOLATILE = /\b(random|clock_timestamp|timeofday|gen_random_uuid|uuid_generate_v[14]|nextval|txid_current|pg_current_xact_id)\s*\(/i;

const schema = z
  .strictObject({
    table: tableName.describe('The table: `users` or `schema.users`.'),
    column: columnName.describe('The new column.'),
    type: sqlType.describe('Its SQL type, e.g. `text` or `varchar(100)`.'),
    default: sqlExpression.optional().describe('Default expression (SQL) for new rows and, unless NULL, existing ones.'),
    check: sqlExpression
      .optional()
      .describe('A CHECK expression (SQL), e.g. `price >= 0`: added NOT VALID (no scan under lock), then validated in a step of its own.'),
    comment: z.string().min(1).optional().describe("The column's comment (COMMENT ON COLUMN)."),
    notNull: z.boolean().default(false).describe('NOT NULL, done safely: nullable, backfill, CHECK … NOT VALID, VALIDATE, SET NOT NULL; needs `default`.'),
    volatile: z
      .boolean()
      .optional()
      .describe(
        'The default gives each row its own value (detected for common functions; set true for your own): existing rows are then filled by a backfill.',
      ),
  })
  .refine((s) => !s.notNull || s.default !== undefined, { message: 'a NOT NULL column needs a default for the existing rows', path: ['default'] });

/** The fields of an `add-column` step. */
export type AddColumnSpec = z.output<typeof schema>;

const isVolatile = (s: AddColumnSpec) => s.default !== undefined && (s.volatile ?? VOLATILE.test(s.default));
const checkName = (t: TableRef, column: string) => boundedName(t.name, column, 'ferry_nn');
/** The name of the spec's own CHECK: PostgreSQL's `<table>_<column>_check`. */
const userCheckName = (t: TableRef, column: string) => boundedName(t.name, column, 'check');
const constraint = (t: TableRef, name: string, validated?: boolean) =>
  `EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.oid} AND conname = ${quoteLiteral(name)}${validated === undefined ? '' : ` AND convalidated = ${validated}`})`;

/** The three parts that make a column NOT NULL with no long lock: unvalidated CHECK, VALIDATE, SET NOT NULL proved by it. */
export function notNullParts(t: TableRef, column: string): SqlPart[] {
  const check = quoteIdent(checkName(t, column));
  const col = quoteIdent(column);
  // Checks of the first two parts still hold once the last has replaced the check by NOT NULL.
  const notNull = `coalesce((SELECT attnotnull FROM pg_attribute WHERE attrelid = ${t.oid} AND attname = ${quoteLiteral(column)}), false)`;
  const addCheck = `ALTER TABLE ${t.sql} ADD CONSTRAINT ${check} CHECK (${col} IS NOT NULL) NOT VALID`;
  const catalogOnly = (what: string) => [
    { relation: t.display, mode: 'AccessExclusiveLock' as const, held: `${what}, until commit; catalog only, milliseconds` },
  ];
  return [
    {
      kind: 'sql',
      name: 'not-null-check',
      description: `CHECK (${column} IS NOT NULL) NOT VALID: enforced for new writes, no scan`,
      transaction: true,
      forward: [addCheck],
      rollback: [`ALTER TABLE ${t.sql} DROP CONSTRAINT IF EXISTS ${check}`],
      verify: [`SELECT ${constraint(t, checkName(t, column))} OR ${notNull}`],
      locks: catalogOnly('ADD CONSTRAINT … NOT VALID'),
    },
    {
      kind: 'sql',
      name: 'not-null-validate',
      description: `validate the check on ${column} (one scan; reads and writes go on)`,
      transaction: true,
      forward: [`ALTER TABLE ${t.sql} VALIDATE CONSTRAINT ${check}`],
      rollback: [],
      verify: [`SELECT ${constraint(t, checkName(t, column), true)} OR ${notNull}`],
      locks: [{ relation: t.display, mode: 'ShareUpdateExclusiveLock', held: 'for one scan of the table; reads and writes go on' }],
    },
    {
      kind: 'sql',
      name: 'set-not-null',
      description: `SET NOT NULL on ${column}, proved by the validated check (no scan), then drop the check`,
      transaction: true,
      forward: [`ALTER TABLE ${t.sql} ALTER COLUMN ${col} SET NOT NULL`, `ALTER TABLE ${t.sql} DROP CONSTRAINT ${check}`],
      rollback: [`ALTER TABLE ${t.sql} ALTER COLUMN ${col} DROP NOT NULL`, addCheck],
      verify: [`SELECT ${notNull} AND NOT ${constraint(t, checkName(t, column))}`],
      locks: catalogOnly('SET NOT NULL and DROP CONSTRAINT'),
    },
  ];
}

/**
 * The two parts that add a CHECK to an existing table with no scan under
 * ACCESS EXCLUSIVE: `NOT VALID` (catalog only; new writes are checked), then
 * `VALIDATE` (one scan under SHARE UPDATE EXCLUSIVE; reads and writes go on).
 */
export function checkParts(t: TableRef, name: string, expression: string): SqlPart[] {
  const con = quoteIdent(name);
  return [
    {
      kind: 'sql',
      name: 'add-check',
      description: `CHECK (${expression}) NOT VALID as ${name}: enforced for new writes, no scan`,
      transaction: true,
      forward: [`ALTER TABLE ${t.sql} ADD CONSTRAINT ${con} CHECK (${expression}) NOT VALID`],
      rollback: [`ALTER TABLE ${t.sql} DROP CONSTRAINT IF EXISTS ${con}`],
      verify: [`SELECT ${constraint(t, name)}`],
      locks: [{ relation: t.display, mode: 'AccessExclusiveLock', held: 'ADD CONSTRAINT … NOT VALID, until commit; catalog only, milliseconds' }],
    },
    {
      kind: 'sql',
      name: 'validate-check',
      description: `validate ${name} (one scan; reads and writes go on)`,
      transaction: true,
      forward: [`ALTER TABLE ${t.sql} VALIDATE CONSTRAINT ${con}`],
      rollback: [],
      verify: [`SELECT ${constraint(t, name, true)}`],
      locks: [{ relation: t.display, mode: 'ShareUpdateExclusiveLock', held: 'VALIDATE CONSTRAINT, for one scan of the table; reads and writes go on' }],
    },
  ];
}

/**
 * Add a column without a long lock: nullable first, with a non-volatile default
 * kept in the catalog (no rewrite); a volatile default is set for new rows and
 * existing rows are backfilled; NOT NULL comes last through a validated check.
 * Nothing to contract.
 */
export const addColumn: Operation<AddColumnSpec> = {
  name: 'add-column',
  schema,
  describe: (s) =>
    `add column ${s.column} ${s.type}${s.notNull ? ' NOT NULL' : ''}${s.default === undefined ? '' : ` DEFAULT ${s.default}`}${s.check === undefined ? '' : ` CHECK (${s.check})`} to ${s.table}`,
  expand(s) {
    const t = tableRef(s.table);
    const col = quoteIdent(s.column);
    const volatile = isVolatile(s);
    const add = `ALTER TABLE ${t.sql} ADD COLUMN ${col} ${s.type}`;
    const forward =
      s.default === undefined
        ? [add]
        : volatile
          ? [add, `ALTER TABLE ${t.sql} ALTER COLUMN ${col} SET DEFAULT (${s.default})`]
          : [`${add} DEFAULT (${s.default})`];
    if (s.comment !== undefined) forward.push(`COMMENT ON COLUMN ${t.sql}.${col} IS ${quoteLiteral(s.comment)}`);
    const parts: OpPart[] = [
      {
        kind: 'sql',
        name: 'add-column',
        description: `add ${s.column} ${s.type} to ${s.table}, nullable${s.default === undefined ? '' : volatile ? ', default for new rows only' : ', default kept in the catalog'}`,
        transaction: true,
        forward,
        rollback: [`ALTER TABLE ${t.sql} DROP COLUMN IF EXISTS ${col}`],
        verify: [columnCheck(t, s.column)],
        locks: [{ relation: s.table, mode: 'AccessExclusiveLock', held: 'ADD COLUMN, until commit; catalog only (no rewrite), milliseconds' }],
      },
    ];
    if (volatile && s.default !== undefined) {
      parts.push({
        kind: 'backfill',
        name: 'backfill',
        description: `fill ${s.column} of existing rows with ${s.default}`,
        // No rollback: add-column's rollback drops the column.
        backfill: { table: s.table, set: { [s.column]: s.default }, where: `${col} IS NULL` },
      });
    }
    if (s.check !== undefined) parts.push(...checkParts(t, userCheckName(t, s.column), s.check));
    if (s.notNull) parts.push(...notNullParts(t, s.column));
    return parts;
  },
  contract: () => [],
  columns: (s) => ({ table: s.table, views: false, hides: [], retypes: [], adds: [s.column] }),
  check: (s, schema) => tableProblems(schema, s.table, { lacks: [s.column] }),
  apply: (s, schema) => addColumns(schema, s.table, [[s.column, { type: canonicalType(s.type), notNull: s.notNull }]]),
  // Only the new shape writes the column. A value equal to a constant default comes back with `up`; a volatile default's do not.
  rollbackLoss: (s, part) => {
    if (part !== 'add-column') return [];
    const col = quoteIdent(s.column);
    const where =
      s.default === undefined || isVolatile(s)
        ? `${col} IS NOT NULL`
        : `${col} IS NOT NULL AND ${col}::text IS DISTINCT FROM ((${s.default})::${s.type})::text`;
    return [{ table: s.table, column: s.column, where }];
  },
};
