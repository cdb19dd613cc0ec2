import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { constraintExists, notNullCheck } from './alter-column-parts.js';
import { shadowColumn } from './change-type.js';
import { type CompatNames, doBlock, sqlExpression, sqlType, type TableRef, tableRef } from './compat.js';
import type { LockNote, SqlPart } from './types.js';

/**
 * The constraints of `alter-column`'s copy mode (src/operations/alter-column-copy.ts):
 * the fields that ask add-unique and add-foreign-key for it, the guard against
 * dropping what depends on the column, and the parts that put CHECKs and a
 * foreign key on the filled copy.
 */

/** The locks of a foreign key's two steps on its table and the referenced one: `ADD … NOT VALID`, then `VALIDATE`. */
export function foreignKeyLocks(step: 'add' | 'validate', table: string, references: string): LockNote[] {
  return step === 'add'
    ? [
        { relation: table, mode: 'ShareRowExclusiveLock', held: 'catalog only, milliseconds (NOT VALID skips the scan); blocks writes while held' },
        { relation: references, mode: 'ShareRowExclusiveLock', held: 'catalog only, milliseconds (adds the referential triggers); blocks writes while held' },
      ]
    : [
        { relation: table, mode: 'ShareUpdateExclusiveLock', held: 'for the whole validating scan; reads and writes go on, other DDL waits' },
        { relation: references, mode: 'RowShareLock', held: 'for the whole validating scan; reads and writes go on' },
      ];
}

/** One copy-mode change: the column, the copy's type, `up` and `down`, and what the copy carries (see src/operations/alter-column-copy.ts). */
export interface CopyChange {
  table: string;
  column: string;
  /** The copy's type: the column's own, or its new type. */
  type: string;
  up: string;
  down: string;
  /** true: the copy gets a NOT NULL check; false: NOT NULL is not carried over at contract; undefined: carried over as it is. */
  notNull?: boolean | undefined;
  /** The user's CHECK, its expression already naming the copy. */
  check?: { name: string; expression: string } | undefined;
  unique?: { name: string } | undefined;
  /** A foreign key to put on the copy: NOT VALID once filled, then validated. */
  foreignKey?: { name: string; references: { table: string; column: string }; onDelete?: string | undefined } | undefined;
  default?: string | null | undefined;
  comment?: string | null | undefined;
  compat?: CompatNames;
}

/**
 * The fields that ask a constraint operation (add-unique, add-foreign-key) for
 * copy mode, so old writers keep writing until contract; absent, the
 * operation generates the SQL it always did.
 */
export const copyModeFields = {
  compat: z
    .boolean()
    .optional()
    .describe(
      'true: put the constraint on a copy of the column that only the new shape (the ferry_v2_ view) sees, so the old version keeps writing until contract; needs one column and `type`.',
    ),
  type: sqlType.optional().describe("With compat: the column's type, the type of its copy."),
  up: sqlExpression
    .optional()
    .describe(
      'With compat: expression over the row computing the copy from an old-shape write, fixing what the constraint refuses; default the column itself.',
    ),
  down: sqlExpression
    .optional()
    .describe("With compat: expression computing the column from a new-shape write, reading the copy under the column's name; default the column itself."),
};

/** Problems with the copy-mode fields of a constraint operation's spec, as zod refinement messages (empty when fine). */
export function copyModeProblems(s: {
  compat?: boolean | undefined;
  type?: string | undefined;
  up?: string | undefined;
  down?: string | undefined;
  columns: string[];
}): string[] {
  if (!s.compat) return s.type !== undefined || s.up !== undefined || s.down !== undefined ? ['type, up and down are for compat: true'] : [];
  return [
    ...(s.columns.length === 1 ? [] : ['compat: true works on one column']),
    ...(s.type === undefined ? ["compat: true needs `type`, the column's type"] : []),
  ];
}

/**
 * A statement refusing to go on while anything besides its default depends
 * on the column (an index, a constraint, an owned sequence): contract drops
 * the column, and would drop them with it. Run before the copy is made and
 * again inside the contract, after the views are gone.
 */
export function dependentsGuard(t: TableRef, column: string): string {
  return doBlock(
    `  SELECT string_agg(pg_describe_object(dep.classid, dep.objid, dep.objsubid), ', ') INTO found
    FROM pg_depend dep JOIN pg_attribute a ON a.attrelid = dep.refobjid AND a.attnum = dep.refobjsubid
   WHERE dep.refclassid = 'pg_class'::regclass AND dep.refobjid = ${t.oid} AND a.attname = ${quoteLiteral(column)}
     AND dep.classid IN ('pg_class'::regclass, 'pg_constraint'::regclass) AND dep.deptype IN ('a', 'n')
     -- NOT NULL, a constraint of its own from PostgreSQL 18 on, is carried over by the swap.
     AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE dep.classid = 'pg_constraint'::regclass AND k.oid = dep.objid AND k.contype = 'n');
  IF found IS NOT NULL THEN
    RAISE EXCEPTION 'column % of % has %, which swapping in its copy would drop', ${quoteLiteral(column)}, ${quoteLiteral(t.display)}, found
      USING HINT = 'drop or move them first (add them again on the column after contract), or make the change in place if it is one';
  END IF;`,
    'found text;',
  );
}

/** The constraints put on the copy once it is filled, unvalidated: each `[name, CHECK expression]`. */
function copyChecks(c: CopyChange, t: TableRef): [string, string][] {
  const shadow = quoteIdent(shadowColumn(c.column));
  return [
    ...(c.notNull ? [[notNullCheck(t, c.column), `${shadow} IS NOT NULL`] as [string, string]] : []),
    ...(c.check ? [[c.check.name, c.check.expression] as [string, string]] : []),
  ];
}

/** The parts that add the constraints to the filled copy (catalog only) and then validate them (a scan that does not block writes). */
export function constraintParts(c: CopyChange, t: TableRef): SqlPart[] {
  const checks = copyChecks(c, t);
  if (checks.length === 0) return [];
  const names = checks.map(([n]) => n);
  return [
    {
      kind: 'sql',
      name: 'add-checks',
      description: `add ${names.join(', ')} on the copy of ${c.column} as NOT VALID: every write is checked from now on`,
      transaction: true,
      forward: checks.map(([n, e]) => `ALTER TABLE ${t.sql} ADD CONSTRAINT ${quoteIdent(n)} CHECK (${e}) NOT VALID`),
      rollback: names.map((n) => `ALTER TABLE ${t.sql} DROP CONSTRAINT IF EXISTS ${quoteIdent(n)}`),
      verify: names.map((n) => `SELECT ${constraintExists(t, n, " AND contype = 'c'")}`),
      locks: [{ relation: c.table, mode: 'AccessExclusiveLock', held: 'ADD CONSTRAINT … NOT VALID, until commit; catalog only, milliseconds' }],
    },
    {
      kind: 'sql',
      name: 'validate-checks',
      description: `validate ${names.join(', ')} against the rows of ${c.table}`,
      transaction: true,
      forward: names.map((n) => `ALTER TABLE ${t.sql} VALIDATE CONSTRAINT ${quoteIdent(n)}`),
      rollback: [],
      verify: names.map((n) => `SELECT ${constraintExists(t, n, ' AND convalidated')}`),
      locks: [{ relation: c.table, mode: 'ShareUpdateExclusiveLock', held: 'VALIDATE CONSTRAINT, for one scan of the table; reads and writes go on' }],
    },
  ];
}

/** The parts that add the foreign key to the filled copy (NOT VALID, catalog only) and then validate it. */
export function foreignKeyParts(c: CopyChange, t: TableRef): SqlPart[] {
  const fk = c.foreignKey;
  if (!fk) return [];
  const ref = tableRef(fk.references.table);
  const name = quoteIdent(fk.name);
  const onDelete = fk.onDelete ? ` ON DELETE ${fk.onDelete.toUpperCase()}` : '';
  const exists = (extra: string) => `SELECT ${constraintExists(t, fk.name, ` AND contype = 'f'${extra}`)}`;
  return [
    {
      kind: 'sql',
      name: 'add-foreign-key',
      description: `add foreign key ${fk.name} on the copy of ${c.column} as NOT VALID: every write is checked from now on`,
      transaction: true,
      forward: [
        `ALTER TABLE ${t.sql} ADD CONSTRAINT ${name} FOREIGN KEY (${quoteIdent(shadowColumn(c.column))}) REFERENCES ${ref.sql} (${quoteIdent(fk.references.column)})${onDelete} NOT VALID`,
      ],
      rollback: [`ALTER TABLE ${t.sql} DROP CONSTRAINT IF EXISTS ${name}`],
      verify: [exists('')],
      locks: foreignKeyLocks('add', c.table, fk.references.table),
    },
    {
      kind: 'sql',
      name: 'validate-foreign-key',
      description: `check the filled copy of ${c.column} against foreign key ${fk.name}`,
      transaction: true,
      forward: [`ALTER TABLE ${t.sql} VALIDATE CONSTRAINT ${name}`],
      rollback: [],
      verify: [exists(' AND convalidated')],
      locks: foreignKeyLocks('validate', c.table, fk.references.table),
    },
  ];
}
