import { z } from 'zod';
import { quoteIdent } from '../db/quote.js';
import { type CopyChange, copyContract, copyExpand } from './alter-column-copy.js';
import { coercibleGuard, forgetPart, type InPlaceChange, inPlaceParts, notNullCheck, renameInExpression } from './alter-column-parts.js';
import { changeType, shadowColumn } from './change-type.js';
import { columnName, compatField, sqlExpression, sqlType, tableName, tableRef, viewProblems } from './compat.js';
import type { ColumnEffect, Operation, OpPart } from './types.js';
import { addColumns, canonicalType, quoted, relationNameProblems, tableProblems, type VirtualSchema } from './virtual-schema.js';

const schema = z
  .strictObject({
    table: tableName.describe('The table: `users` or `schema.users`.'),
    column: columnName.describe('The column to change.'),
    notNull: z
      .boolean()
      .optional()
      .describe('true: set NOT NULL, through a copy of the column (old writers keep writing NULLs, `up` fills them); false: drop NOT NULL, in place.'),
    default: z.union([sqlExpression, z.null()]).optional().describe("The new default, an SQL expression (`now()`, `''`); null drops the default."),
    check: z
      .strictObject({
        name: columnName.describe("The constraint's name."),
        expression: sqlExpression.describe('The CHECK expression over the row, naming the column as it is named: `length(email) > 3`.'),
      })
      .optional()
      .describe('A CHECK constraint to add, through a copy of the column (`up` fixes the values old writers send that it refuses).'),
    unique: z
      .strictObject({ name: columnName.describe("The unique constraint's name, also its index's.") })
      .optional()
      .describe('Make the column unique, through a copy of the column and an index built concurrently.'),
    comment: z.union([z.string(), z.null()]).optional().describe("The column's comment; null removes it."),
    type: sqlType
      .optional()
      .describe(
        "The new type: in place when ferry knows the change binary-coercible (varchar(n) to varchar(m ≥ n) or text, numeric(p,s) to numeric(p2 ≥ p,s)), else through a copy; with notNull true, check or unique, the type of the copy (the column's own type when it does not change).",
      ),
    up: sqlExpression
      .optional()
      .describe("Expression over the row computing the copy's value from an old-shape write, e.g. `coalesce(email, '')`; default the column itself."),
    down: sqlExpression
      .optional()
      .describe("Expression computing the column's value from a new-shape write, reading the copy under the column's name; default the column itself."),
    compat: compatField,
  })
  .refine(
    (s) => [s.notNull, s.default, s.check, s.unique, s.comment, s.type].some((v) => v !== undefined),
    'give at least one change: notNull, default, check, unique, comment or type',
  )
  .refine((s) => !(s.notNull === true || s.check || s.unique) || s.type !== undefined, {
    message: "setting NOT NULL, adding a CHECK or UNIQUE copies the column: give `type`, the column's type (or its new type)",
    path: ['type'],
  })
  .refine((s) => !s.check || renameInExpression(s.check.expression, s.column, shadowColumn(s.column)) !== undefined, {
    message: 'the check expression must be one SQL expression that names the column unqualified (`length(email) > 3`, not `users.email`)',
    path: ['check', 'expression'],
  })
  .refine((s) => modeOf(s) !== 'in-place' || (s.up === undefined && s.down === undefined && s.compat === undefined), {
    message:
      'up, down and compat are for changes made through a copy of the column (notNull true, check, unique, or a type change that is not binary-coercible)',
  });

/** The fields of an `alter-column` step. */
export type AlterColumnSpec = z.output<typeof schema>;

/** The fields that decide how a spec is carried out. */
interface Fields {
  notNull?: boolean | undefined;
  default?: string | null | undefined;
  check?: object | undefined;
  unique?: object | undefined;
  comment?: string | null | undefined;
  type?: string | undefined;
}

/**
 * How a spec is carried out: `in-place` (catalog only), `change-type` (a type
 * change alone that is not binary-coercible: change-type's own parts), or
 * `copy` (constraints old writers could break, alone or with other changes).
 */
export function modeOf(s: Fields): 'in-place' | 'change-type' | 'copy' {
  if (s.notNull === true || s.check || s.unique) return 'copy';
  if (s.type === undefined || coercibleGuard(s.type) !== undefined) return 'in-place';
  return s.notNull === undefined && s.default === undefined && s.comment === undefined ? 'change-type' : 'copy';
}

/** `up` and `down` as given, each defaulting to the column itself. */
const directions = (s: AlterColumnSpec) => ({ up: s.up ?? quoteIdent(s.column), down: s.down ?? quoteIdent(s.column) });

const changeTypeSpec = (s: AlterColumnSpec) => {
  const { up, down } = directions(s);
  return { table: s.table, column: s.column, type: s.type as string, using: up, reverse: down, compat: s.compat };
};

function copyOf(s: AlterColumnSpec): CopyChange {
  let check: CopyChange['check'];
  if (s.check) {
    const expression = renameInExpression(s.check.expression, s.column, shadowColumn(s.column));
    if (expression === undefined) {
      throw new Error(
        `alter-column ${s.table}.${s.column}: the check expression must parse as one SQL expression naming ${quoted(s.column)} unqualified: ${s.check.expression}`,
      );
    }
    check = { name: s.check.name, expression };
  }
  return {
    table: s.table,
    column: s.column,
    type: s.type as string,
    ...directions(s),
    notNull: s.notNull,
    check,
    unique: s.unique,
    default: s.default,
    comment: s.comment,
    compat: s.compat,
  };
}

function inPlaceOf(s: AlterColumnSpec): InPlaceChange {
  const guard = s.type === undefined ? undefined : coercibleGuard(s.type);
  return {
    t: tableRef(s.table),
    column: s.column,
    dropNotNull: s.notNull === false,
    default: s.default,
    comment: s.comment,
    type: s.type !== undefined && guard !== undefined ? { sql: s.type, guard } : undefined,
  };
}

function describe(s: AlterColumnSpec): string {
  const what = [
    s.notNull === true ? 'set NOT NULL' : s.notNull === false ? 'drop NOT NULL' : '',
    s.default === null ? 'drop the default' : s.default !== undefined ? `default ${s.default}` : '',
    s.check ? `check ${s.check.name}` : '',
    s.unique ? `unique ${s.unique.name}` : '',
    s.comment !== undefined ? 'comment' : '',
    s.type !== undefined ? `type ${s.type}` : '',
  ].filter(Boolean);
  return `alter ${s.table}.${s.column}: ${what.join(', ')}${modeOf(s) === 'in-place' ? ' (in place)' : ' (through a copy of the column)'}`;
}

/** Problems the virtual schema shows: the column, free names, a change that changes something. */
function problems(s: AlterColumnSpec, vs: VirtualSchema): string[] {
  const mode = modeOf(s);
  const out = [...tableProblems(vs, s.table, { has: [s.column], ...(mode === 'in-place' ? {} : { lacks: [shadowColumn(s.column)] }) })];
  if (mode !== 'in-place') out.push(...viewProblems(vs, s.table, s.compat));
  const key = vs.keyOf(s.table);
  const t = vs.known(key);
  const col = t?.columns.get(s.column);
  if (col && s.notNull !== undefined && col.notNull === s.notNull)
    out.push(`column ${quoted(s.column)} of table ${key} is already ${s.notNull ? 'NOT NULL' : 'nullable'}`);
  if (col && mode === 'change-type' && canonicalType(col.type) === canonicalType(s.type as string))
    out.push(`column ${quoted(s.column)} of table ${key} is already ${col.type}`);
  for (const name of [s.check?.name, s.unique?.name, s.notNull === true ? notNullCheck(tableRef(s.table), s.column) : undefined]) {
    if (name !== undefined && t?.constraints.has(name)) out.push(`table ${key} already has a constraint ${quoted(name)}`);
  }
  if (s.unique) out.push(...relationNameProblems(vs, s.table, s.unique.name, 'unique index'));
  // Contract drops the column, and with it every key on it: copy mode refuses to start on such a column.
  const keys = t && mode !== 'in-place' ? [...(t.primaryKey ? [[t.primaryKey.name, t.primaryKey.columns] as const] : []), ...t.uniqueKeys] : [];
  for (const [name, columns] of keys) {
    if (columns.includes(s.column)) out.push(`column ${quoted(s.column)} of table ${key} is in key ${quoted(name)}, which swapping in its copy would drop`);
  }
  return out;
}

/**
 * Change an existing column — NOT NULL, default, CHECK, UNIQUE, comment,
 * type — in one step, with nothing that old writers could trip over: catalog
 * changes in place (recording the column as it was, so down restores it
 * exactly); constraints on a copy of the column that only the new shape sees,
 * kept in step by the sync trigger and swapped in by contract.
 */
export const alterColumn: Operation<AlterColumnSpec> = {
  name: 'alter-column',
  // Copy mode's contract swaps the copy in (drop the old column, rename the copy) behind the v2 view; an in-place type change is proved binary-coercible first.
  handles: ['drop-column', 'rename-column', 'column-type-change', 'set-not-null-without-check'],
  schema,
  describe,
  expand(s): OpPart[] {
    const mode = modeOf(s);
    if (mode === 'change-type') return changeType.expand(changeTypeSpec(s));
    if (mode === 'copy') return copyExpand(copyOf(s));
    return inPlaceParts(inPlaceOf(s));
  },
  contract(s): OpPart[] {
    const mode = modeOf(s);
    if (mode === 'change-type') return changeType.contract(changeTypeSpec(s));
    if (mode === 'copy') return copyContract(copyOf(s));
    return [forgetPart(inPlaceOf(s))];
  },
  columns(s): ColumnEffect {
    const mode = modeOf(s);
    const retypes = mode === 'in-place' ? [] : [{ column: s.column, shadow: shadowColumn(s.column), type: s.type as string }];
    return { table: s.table, views: mode !== 'in-place', compat: s.compat, hides: [], retypes, adds: [] };
  },
  stored: (s, n) => ({
    ...s,
    column: n.column(s.column),
    ...(s.up === undefined ? {} : { up: n.expression(s.up) }),
    ...(s.down === undefined ? {} : { down: n.expression(s.down) }),
  }),
  check: problems,
  apply(s, vs) {
    const t = vs.tables.get(vs.keyOf(s.table));
    const col = t?.columns.get(s.column);
    if (modeOf(s) !== 'in-place') addColumns(vs, s.table, [[shadowColumn(s.column), { type: canonicalType(s.type as string), notNull: false }]]);
    else if (col)
      t?.columns.set(s.column, { type: s.type === undefined ? col.type : canonicalType(s.type), notNull: s.notNull === false ? false : col.notNull });
    for (const name of [s.check?.name, s.unique?.name]) if (name !== undefined) t?.constraints.add(name);
    if (s.unique) vs.relations.set(`${tableRef(s.table).schema}.${s.unique.name}`, 'index');
  },
  // Copy mode: the sync trigger writes every new-shape value back into the column through down; in place, nothing is dropped.
  rollbackLoss: () => [],
};
