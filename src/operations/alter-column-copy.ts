import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { buildIndexPart } from './add-index.js';
import { type CopyChange, constraintParts, dependentsGuard, foreignKeyParts } from './alter-column-constraints.js';
import { attribute, constraintExists, notNullCheck } from './alter-column-parts.js';
import { changeType, shadowColumn } from './change-type.js';
import {
  columnCheck,
  contractLocks,
  doBlock,
  dropSync,
  dropViews,
  previousContract,
  syncPart,
  type TableRef,
  tableRef,
  viewSchemas,
  viewsGone,
  viewsPart,
} from './compat.js';
import type { OpPart, SqlPart } from './types.js';

export type { CopyChange } from './alter-column-constraints.js';

/**
 * The copy mode of `alter-column` (src/operations/alter-column.ts), for
 * changes old writers could break: the new shape is a copy of the column that
 * only the new version sees (`<column>__ferry_new`, carrying the new
 * constraints), kept in step by the sync trigger: `up` computes the copy from
 * every old write, `down` the column from every new one. The column itself is
 * never written by ferry, so `down` before contract gives back every original value.
 */

/** The copy-mode change of a `compat: true` add-unique or add-foreign-key: its one column, copied with `type`, and `constraint` on the copy. */
export function compatCopy(
  spec: { table: string; columns: string[]; type?: string | undefined; up?: string | undefined; down?: string | undefined },
  constraint: Pick<CopyChange, 'unique' | 'foreignKey'>,
): CopyChange {
  const column = spec.columns[0] as string;
  return { table: spec.table, column, type: spec.type as string, up: spec.up ?? quoteIdent(column), down: spec.down ?? quoteIdent(column), ...constraint };
}

/** Rows whose copy was never computed though `up` gives a value: the backfill's predicate, empty once expand is done. */
const unfilled = (c: CopyChange) => `${quoteIdent(shadowColumn(c.column))} IS NULL AND (${c.up}) IS NOT NULL`;

/** The new shape's default, on the new-shape view only: a default on the copy would make old writes look like new ones to the sync trigger. */
function viewDefaultPart(c: CopyChange, t: TableRef): SqlPart[] {
  if (c.default === undefined || c.default === null) return [];
  const view = quoteQualified(viewSchemas(t, c.compat).new, t.name);
  return [
    {
      kind: 'sql',
      name: 'new-shape-default',
      description: `default of ${c.column} in the new shape: ${c.default}`,
      transaction: true,
      forward: [`ALTER VIEW ${view} ALTER COLUMN ${quoteIdent(c.column)} SET DEFAULT ${c.default}`],
      rollback: [`ALTER VIEW IF EXISTS ${view} ALTER COLUMN ${quoteIdent(c.column)} DROP DEFAULT`],
      verify: [
        `SELECT EXISTS (SELECT 1 FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
         WHERE d.adrelid = to_regclass(${quoteLiteral(view)}) AND a.attname = ${quoteLiteral(c.column)})`,
      ],
      locks: [
        { relation: `${viewSchemas(t, c.compat).new}.${t.name}`, mode: 'AccessExclusiveLock', held: 'ALTER VIEW, until commit; catalog only, milliseconds' },
      ],
    },
  ];
}

/** The expand parts: add the copy, sync it, fill it, constrain it, publish both shapes. */
export function copyExpand(c: CopyChange): OpPart[] {
  const t = tableRef(c.table);
  const shadow = shadowColumn(c.column);
  const add: SqlPart = {
    kind: 'sql',
    name: 'add-copy',
    description: `add nullable ${shadow} ${c.type} to ${c.table}, the copy of ${c.column} the new shape shows`,
    transaction: true,
    forward: [
      dependentsGuard(t, c.column),
      `ALTER TABLE ${t.sql} ADD COLUMN ${quoteIdent(shadow)} ${c.type}`,
      ...(typeof c.comment === 'string' ? [`COMMENT ON COLUMN ${t.sql}.${quoteIdent(shadow)} IS ${quoteLiteral(c.comment)}`] : []),
    ],
    rollback: [`ALTER TABLE ${t.sql} DROP COLUMN IF EXISTS ${quoteIdent(shadow)}`],
    verify: [columnCheck(t, shadow)],
    locks: [{ relation: c.table, mode: 'AccessExclusiveLock', held: 'ADD COLUMN without default, until commit; catalog only, milliseconds' }],
  };
  const sync = syncPart({
    t,
    key: c.column,
    oldColumns: [c.column],
    forward: [{ column: shadow, type: c.type, expr: c.up }],
    backward: [{ column: c.column, expr: c.down }],
    backwardColumns: { [c.column]: shadow },
  });
  const unique = c.unique
    ? [buildIndexPart({ table: c.table, name: c.unique.name, unique: true, definition: `(${quoteIdent(shadow)})`, part: 'unique-index' })]
    : [];
  return [
    add,
    sync,
    {
      kind: 'backfill',
      name: 'backfill',
      description: `compute ${shadow} of existing rows from ${c.column} through up`,
      backfill: { table: c.table, set: { [shadow]: c.up }, where: unfilled(c) },
    },
    ...constraintParts(c, t),
    ...foreignKeyParts(c, t),
    ...unique,
    viewsPart(t, viewSchemas(t, c.compat), { hide: [shadow] }, { hide: [shadow], replace: { [c.column]: shadow } }, [
      `SELECT NOT EXISTS (SELECT 1 FROM ${t.sql} WHERE ${unfilled(c)})`,
    ]),
    ...viewDefaultPart(c, t),
  ];
}

/** The statements that swap the copy in: carry what the spec keeps, drop the column, rename the copy, make the constraints final. */
function swapStatements(c: CopyChange, t: TableRef): string[] {
  const shadow = shadowColumn(c.column);
  const check = notNullCheck(t, c.column);
  const alter = (what: string) => `EXECUTE format('ALTER TABLE %s ${what}', ${quoteLiteral(t.sql)}`;
  const carry: string[] = [];
  if (c.default === undefined) {
    carry.push(
      doBlock(
        `  def := ${attribute(t, c.column, 'pg_get_expr(d.adbin, d.adrelid)')};
  IF def IS NOT NULL THEN
    ${alter('ALTER COLUMN %I SET DEFAULT %s')}, ${quoteLiteral(shadow)}, def);
  END IF;`,
        'def text;',
      ),
    );
  }
  if (c.comment === undefined) {
    carry.push(
      doBlock(
        `  note := ${attribute(t, c.column, 'col_description(a.attrelid, a.attnum)')};
  IF note IS NOT NULL THEN
    EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', ${quoteLiteral(t.sql)}, ${quoteLiteral(shadow)}, note);
  END IF;`,
        'note text;',
      ),
    );
  }
  return [
    ...carry,
    dependentsGuard(t, c.column),
    `ALTER TABLE ${t.sql} DROP COLUMN ${quoteIdent(c.column)}`,
    `ALTER TABLE ${t.sql} RENAME COLUMN ${quoteIdent(shadow)} TO ${quoteIdent(c.column)}`,
    doBlock(`  IF ${constraintExists(t, check)} THEN
    ${alter('ALTER COLUMN %I SET NOT NULL')}, ${quoteLiteral(c.column)});
    ${alter('DROP CONSTRAINT %I')}, ${quoteLiteral(check)});
  END IF;`),
    ...(c.unique ? [`ALTER TABLE ${t.sql} ADD CONSTRAINT ${quoteIdent(c.unique.name)} UNIQUE USING INDEX ${quoteIdent(c.unique.name)}`] : []),
    ...(typeof c.default === 'string' ? [`ALTER TABLE ${t.sql} ALTER COLUMN ${quoteIdent(c.column)} SET DEFAULT ${c.default}`] : []),
  ];
}

/**
 * The contract parts: NOT NULL carried over the way change-type does it (an
 * unvalidated check, validated outside the lock) unless the spec drops it, then
 * one transaction dropping the views, the sync trigger and the old column and
 * renaming the copy into its place.
 */
export function copyContract(c: CopyChange): OpPart[] {
  const t = tableRef(c.table);
  const schemas = viewSchemas(t, c.compat);
  const shadow = shadowColumn(c.column);
  const views = dropViews(t, schemas);
  const swap = swapStatements(c, t);
  const part: SqlPart = {
    kind: 'sql',
    name: 'swap-columns',
    description: `drop the views, the sync trigger and the old ${c.column}; rename ${shadow} to ${c.column}`,
    transaction: true,
    forward: [...views.slice(0, 2), ...dropSync({ t, key: c.column }), ...swap, ...views.slice(2)],
    rollback: [],
    verify: [
      columnCheck(t, shadow, false),
      `SELECT format_type(${attribute(t, c.column, 'a.atttypid')}, NULL) = format_type(${quoteLiteral(c.type)}::regtype, NULL)`,
      ...(c.notNull ? [`SELECT ${attribute(t, c.column, 'a.attnotnull')}`] : []),
      ...(c.check ? [`SELECT ${constraintExists(t, c.check.name, " AND contype = 'c' AND convalidated")}`] : []),
      ...(c.unique ? [`SELECT ${constraintExists(t, c.unique.name, " AND contype = 'u'")}`] : []),
      ...(c.foreignKey ? [`SELECT ${constraintExists(t, c.foreignKey.name, " AND contype = 'f' AND convalidated")}`] : []),
      viewsGone(t, schemas),
    ],
    locks: contractLocks(t, schemas, 'DROP TRIGGER, DROP COLUMN, RENAME COLUMN and SET NOT NULL (proved by the validated check, no scan), until commit'),
    compose: { role: 'reshape', statements: swap },
    // The swap drops the old column and renames the copy into its place, both already behind the new shape's view
    // (add-unique and add-foreign-key with compat run it too, without alter-column's own `handles`).
    handles: ['drop-column', 'rename-column'],
  };
  const carryNotNull =
    c.notNull === false
      ? []
      : changeType.contract({ table: c.table, column: c.column, type: c.type, using: c.up, reverse: c.down, compat: c.compat }).slice(0, 2);
  return [...carryNotNull, { ...part, previous: previousContract(part, { t, key: c.column }) }];
}
