import { createHash } from 'node:crypto';
import { parseSync } from 'libpg-query';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { boundedName, doBlock, type TableRef } from './compat.js';
import { forgetDefinitionSql, isSavedSql, type SavedDefinition, saveDefinitionSql, savedDefinition, savedDefinitionSql } from './saved-definitions.js';
import type { SqlPart } from './types.js';
import { canonicalType } from './virtual-schema.js';

/**
 * The in-place half of `alter-column` (src/operations/alter-column.ts):
 * catalog-only changes whose exact rollback needs the column as it was, which
 * the forward transaction records in `ferry.saved_definitions`.
 */

/** The in-place changes of one `alter-column` step. */
export interface InPlaceChange {
  t: TableRef;
  column: string;
  dropNotNull: boolean;
  /** The new default (SQL), null to drop it, undefined to keep it. */
  default?: string | null | undefined;
  /** The new comment, null to drop it, undefined to keep it. */
  comment?: string | null | undefined;
  /** A binary-coercible new type, with the condition that proves it over the column's `typ` (regtype) and `mod` (typmod). */
  type?: { sql: string; guard: string } | undefined;
}

/** The unvalidated `CHECK (column IS NOT NULL)` ferry proves NOT NULL with; change-type names it alike. */
export const notNullCheck = (t: TableRef, column: string): string => boundedName(t.name, column, 'ferry_nn');

/**
 * Where the column's definition before the change is recorded (as jsonb text):
 * kind `column`, named `<column>#<hash of the change>`, one per step even when
 * two steps change the same column.
 */
export function savedColumn(c: InPlaceChange): SavedDefinition {
  const change = JSON.stringify([c.dropNotNull, c.default ?? '', c.default === null, c.comment ?? '', c.comment === null, c.type?.sql ?? '']);
  const hash = createHash('sha256').update(change).digest('hex').slice(0, 8);
  return savedDefinition('column', c.t, `${c.column}#${hash}`);
}

/** An SQL expression: the recorded definition as jsonb, NULL when there is none. */
const savedJson = (c: InPlaceChange): string => `(${savedDefinitionSql(savedColumn(c))})::jsonb`;

/** An SQL condition: constraint `name` is on `t` (and matches `extra`). */
export const constraintExists = (t: TableRef, name: string, extra = ''): string =>
  `EXISTS (SELECT 1 FROM pg_constraint WHERE conrelid = ${t.oid} AND conname = ${quoteLiteral(name)}${extra})`;

/** A field of the column's pg_attribute row (joined with its default as `d`). */
export const attribute = (t: TableRef, column: string, field: string): string =>
  `(SELECT ${field} FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum WHERE a.attrelid = ${t.oid} AND a.attname = ${quoteLiteral(column)} AND NOT a.attisdropped)`;

/**
 * The condition (over `typ` regtype and `mod` typmod, the column's current
 * type) under which changing to `type` is binary-coercible, for the well-known
 * safe widenings; undefined when ferry does not know the change to be one.
 */
export function coercibleGuard(type: string): string | undefined {
  const c = canonicalType(type);
  const varchar = `'character varying'::regtype`;
  if (c === 'text' || c === 'character varying') return `typ IN ('text'::regtype, ${varchar})`;
  const v = /^character varying\((\d+)\)$/.exec(c);
  if (v) return `typ = ${varchar} AND mod BETWEEN 5 AND ${Number(v[1]) + 4}`;
  if (c === 'numeric') return `typ = 'numeric'::regtype`;
  const n = /^numeric\((\d+)(?:,(\d+))?\)$/.exec(c);
  if (n) return `typ = 'numeric'::regtype AND mod >= 4 AND ((mod - 4) >> 16) <= ${Number(n[1])} AND ((mod - 4) & 65535) = ${Number(n[2] ?? 0)}`;
  return undefined;
}

const alter = (t: TableRef, what: string) => `EXECUTE format('ALTER TABLE %s ${what}', ${quoteLiteral(t.sql)}`;

/** The statements recording the column as it is, then refusing a type change that is not binary-coercible before anything is rewritten. */
function saveAndGuard(c: InPlaceChange): string[] {
  const { t, column } = c;
  const save = saveDefinitionSql(
    savedColumn(c),
    `SELECT jsonb_build_object('notnull', a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid), 'comment', col_description(a.attrelid, a.attnum),
      'type', format_type(a.atttypid, a.atttypmod))::text
    FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
   WHERE a.attrelid = ${t.oid} AND a.attname = ${quoteLiteral(column)} AND NOT a.attisdropped`,
  );
  if (!c.type) return [save];
  const guard = doBlock(
    `  SELECT a.atttypid::regtype, a.atttypmod INTO typ, mod FROM pg_attribute a WHERE a.attrelid = ${t.oid} AND a.attname = ${quoteLiteral(column)} AND NOT a.attisdropped;
  IF NOT (${c.type.guard}) THEN
    RAISE EXCEPTION 'changing column % of % from % to % is not binary-coercible: it would rewrite the table under lock', ${quoteLiteral(column)}, ${quoteLiteral(t.display)}, format_type(typ, mod), ${quoteLiteral(c.type.sql)}
      USING HINT = 'state the change with up/down expressions and a NOT NULL, CHECK or UNIQUE change, or use change-type, so it runs through a copy of the column';
  END IF;`,
    'typ regtype; mod int;',
  );
  return [save, guard];
}

/** The rollback: put back what the forward changed, from the recorded definition, then drop the record. */
function restore(c: InPlaceChange): string {
  const { t, column } = c;
  const col = quoteLiteral(column);
  const lines = [`  saved := ${savedJson(c)};`, '  IF saved IS NULL THEN RETURN; END IF;'];
  if (c.type) lines.push(`  ${alter(t, 'ALTER COLUMN %I TYPE %s')}, ${col}, saved->>'type');`);
  // ALTER TYPE rewrites the default expression too: put back the recorded text.
  if (c.type || c.default !== undefined) {
    lines.push(`  IF saved->>'default' IS NULL THEN
    ${alter(t, 'ALTER COLUMN %I DROP DEFAULT')}, ${col});
  ELSE
    ${alter(t, 'ALTER COLUMN %I SET DEFAULT %s')}, ${col}, saved->>'default');
  END IF;`);
  }
  if (c.comment !== undefined) lines.push(`  EXECUTE format('COMMENT ON COLUMN %s.%I IS %L', ${quoteLiteral(t.sql)}, ${col}, saved->>'comment');`);
  if (c.dropNotNull) {
    lines.push(`  IF (saved->>'notnull')::boolean THEN
    ${alter(t, 'ADD CONSTRAINT %I CHECK (%I IS NOT NULL) NOT VALID')}, ${quoteLiteral(notNullCheck(t, column))}, ${col});
  END IF;`);
  }
  lines.push(`  ${forgetDefinitionSql(savedColumn(c))};`);
  return doBlock(lines.join('\n'), 'saved jsonb;');
}

/** The forward ALTER TABLE and COMMENT statements. */
function changes(c: InPlaceChange): string[] {
  const { t } = c;
  const col = quoteIdent(c.column);
  const sub = [
    ...(c.dropNotNull ? [`ALTER COLUMN ${col} DROP NOT NULL`] : []),
    ...(c.type ? [`ALTER COLUMN ${col} TYPE ${c.type.sql}`] : []),
    ...(c.default === null ? [`ALTER COLUMN ${col} DROP DEFAULT`] : c.default !== undefined ? [`ALTER COLUMN ${col} SET DEFAULT ${c.default}`] : []),
  ];
  const out = sub.length ? [`ALTER TABLE ${t.sql} ${sub.join(', ')}`] : [];
  // ALTER TYPE wraps a kept default in a cast: set it again as it was written.
  if (c.type && c.default === undefined) {
    out.push(
      doBlock(
        `  def := ${savedJson(c)}->>'default';
  IF def IS NOT NULL THEN
    ${alter(t, 'ALTER COLUMN %I SET DEFAULT %s')}, ${quoteLiteral(c.column)}, def);
  END IF;`,
        'def text;',
      ),
    );
  }
  if (c.comment !== undefined) out.push(`COMMENT ON COLUMN ${t.sql}.${col} IS ${c.comment === null ? 'NULL' : quoteLiteral(c.comment)}`);
  return out;
}

/** Checks that the in-place changes are there. */
function verify(c: InPlaceChange): string[] {
  const { t, column } = c;
  return [
    isSavedSql(savedColumn(c)),
    ...(c.dropNotNull ? [`SELECT NOT ${attribute(t, column, 'a.attnotnull')}`] : []),
    ...(c.default === null
      ? [`SELECT ${attribute(t, column, 'd.adbin')} IS NULL`]
      : c.default !== undefined
        ? [`SELECT ${attribute(t, column, 'd.adbin')} IS NOT NULL`]
        : []),
    ...(c.comment !== undefined
      ? [
          `SELECT ${attribute(t, column, 'col_description(a.attrelid, a.attnum)')} IS NOT DISTINCT FROM ${c.comment === null ? 'NULL' : quoteLiteral(c.comment)}`,
        ]
      : []),
    ...(c.type ? [`SELECT format_type(${attribute(t, column, 'a.atttypid')}, NULL) = format_type(${quoteLiteral(c.type.sql)}::regtype, NULL)`] : []),
  ];
}

/**
 * The expand parts of in-place changes: when NOT NULL is dropped, a part whose
 * rollback (run last) validates the restored NOT NULL check outside the lock
 * and turns it into NOT NULL; then the changes themselves, catalog only.
 */
export function inPlaceParts(c: InPlaceChange): SqlPart[] {
  const { t, column } = c;
  const check = notNullCheck(t, column);
  const restoreNotNull: SqlPart = {
    kind: 'sql',
    name: 'restore-not-null',
    description: `nothing on up; on down, validate the restored NOT NULL check of ${column} (a scan that does not block writes) and make it NOT NULL`,
    transaction: true,
    forward: [],
    rollback: [
      doBlock(`  IF ${constraintExists(t, check)} THEN
    ${alter(t, 'VALIDATE CONSTRAINT %I')}, ${quoteLiteral(check)});
    ${alter(t, 'ALTER COLUMN %I SET NOT NULL')}, ${quoteLiteral(column)});
    ${alter(t, 'DROP CONSTRAINT %I')}, ${quoteLiteral(check)});
  END IF;`),
    ],
    verify: [],
    locks: [],
  };
  const alterPart: SqlPart = {
    kind: 'sql',
    name: 'alter-in-place',
    description: `record ${column} of ${t.display} as it is, then change it in place (catalog only)`,
    transaction: true,
    forward: [...saveAndGuard(c), ...changes(c)],
    rollback: [restore(c)],
    verify: verify(c),
    locks: [
      {
        relation: t.display,
        mode: 'AccessExclusiveLock',
        held: `ALTER COLUMN${c.type ? ' (TYPE only when binary-coercible: checked first, no rewrite)' : ''}, until commit; catalog only, milliseconds`,
      },
    ],
  };
  return c.dropNotNull ? [restoreNotNull, alterPart] : [alterPart];
}

/** The contract part of in-place changes: forget the recorded definition, so the change is for good. */
export function forgetPart(c: InPlaceChange): SqlPart {
  const { column } = c;
  const saved = savedColumn(c);
  return {
    kind: 'sql',
    name: 'forget-previous',
    description: `drop the record of ${column} as it was before the change: down can no longer restore it`,
    transaction: true,
    forward: [forgetDefinitionSql(saved)],
    rollback: [],
    verify: [`SELECT NOT ${isSavedSql(saved).slice('SELECT '.length)}`],
    locks: [],
  };
}

interface ColumnRefNode {
  fields: { String?: { sval: string } }[];
  location: number;
}

function columnRefs(node: unknown, out: ColumnRefNode[]): void {
  if (Array.isArray(node)) {
    for (const n of node) columnRefs(n, out);
  } else if (node !== null && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === 'ColumnRef') out.push(value as ColumnRefNode);
      else columnRefs(value, out);
    }
  }
}

/** The target list of `sql` when it parses as exactly one SELECT; undefined when it does not. */
function selectTargets(sql: string): unknown[] | undefined {
  try {
    const parsed = parseSync(sql) as { stmts?: { stmt?: { SelectStmt?: { targetList?: unknown[] } } }[] };
    return parsed.stmts?.length === 1 ? parsed.stmts[0]?.stmt?.SelectStmt?.targetList : undefined;
  } catch (err) {
    if (/not initialized/i.test(String((err as Error).message))) throw err;
    return undefined;
  }
}

/**
 * `expr` with every reference to column `from` made a reference to `to`
 * (a CHECK written for the column, put on its copy). Undefined when that
 * cannot be done by the parse tree alone: the expression does not parse as one
 * expression, or names `from` qualified or in a form other than plain or quoted.
 */
export function renameInExpression(expr: string, from: string, to: string): string | undefined {
  // Bare, it must be one expression too: text that closes the parentheses it is put in (`a) OR (b`) is not.
  if (selectTargets(`SELECT ${expr}`)?.length !== 1) return undefined;
  const prefix = 'SELECT (\n';
  const text = Buffer.from(`${prefix}${expr}\n)`, 'utf8');
  const targets = selectTargets(text.toString('utf8'));
  if (targets?.length !== 1) return undefined;
  const refs: ColumnRefNode[] = [];
  columnRefs(targets, refs);
  const pieces: Buffer[] = [];
  let at = Buffer.byteLength(prefix);
  for (const ref of refs.sort((a, b) => a.location - b.location)) {
    const names = ref.fields.map((f) => f.String?.sval);
    if (!names.includes(from)) continue;
    if (names.length !== 1 || ref.location < at) return undefined;
    const plain = Buffer.from(from, 'utf8');
    const quoted = Buffer.from(quoteIdent(from), 'utf8');
    const here = text.subarray(ref.location);
    const len = here.subarray(0, quoted.length).equals(quoted)
      ? quoted.length
      : /^[a-z_][a-z0-9_$]*$/.test(from) && here.subarray(0, plain.length).toString('utf8').toLowerCase() === from
        ? plain.length
        : undefined;
    if (len === undefined) return undefined;
    pieces.push(text.subarray(at, ref.location), Buffer.from(quoteIdent(to), 'utf8'));
    at = ref.location + len;
  }
  pieces.push(text.subarray(at, text.length - 2));
  return Buffer.concat(pieces).toString('utf8');
}
