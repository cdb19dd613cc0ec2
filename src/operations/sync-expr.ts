import { parseSync } from 'libpg-query';
import { quoteIdent } from '../db/quote.js';
import { parserReady } from '../db/sql-script.js';

// Loading starts with the module; the loader awaits it (and reports a failure) before compiling operations.
// Unloaded, compiling throws: the generated SQL never depends on timing.
parserReady().catch(() => undefined);

/**
 * A sync trigger's expression compiled to read the trigger's row directly:
 * `split_part(full_name, ' ', 1)` becomes `split_part(NEW."full_name", ' ', 1)`,
 * so PL/pgSQL evaluates it as a simple expression instead of running a
 * subquery per written row. Only what can be proved to mean the same as
 * today's `… FROM (SELECT NEW.*) AS r` is compiled; anything else is left to
 * that form (see {@link compileExpression}).
 */
export interface CompiledExpression {
  /** The expression with every column reference replaced by `NEW."column"`. */
  sql: string;
  /** The stored columns it reads. */
  reads: string[];
}

/**
 * Names a bare reference could mean besides a column of the row: PL/pgSQL's
 * trigger variables (with `use_column` a column wins, else the variable), and
 * the alias `r` of today's form, which names the whole row.
 */
const AMBIGUOUS = new Set([
  'new',
  'old',
  'found',
  'r',
  'tg_name',
  'tg_when',
  'tg_level',
  'tg_op',
  'tg_relid',
  'tg_relname',
  'tg_table_name',
  'tg_table_schema',
  'tg_nargs',
  'tg_argv',
  'tg_event',
  'tg_tag',
]);

/** Nodes whose meaning depends on more than the row: a subquery may read other tables' columns, a `$1` has no value here. */
const UNSAFE = new Set(['SubLink', 'ParamRef', 'RangeVar', 'RangeSubselect', 'A_Star']);

const PREFIX = 'SELECT (\n';

interface ColumnRefNode {
  fields: { String?: { sval: string } }[];
  location: number;
}

/** Every ColumnRef under `node`; false when an unsafe node is found. */
function columnRefs(node: unknown, out: ColumnRefNode[]): boolean {
  if (Array.isArray(node)) return node.every((n) => columnRefs(n, out));
  if (node === null || typeof node !== 'object') return true;
  for (const [key, value] of Object.entries(node)) {
    if (UNSAFE.has(key)) return false;
    if (key === 'ColumnRef') {
      const ref = value as ColumnRefNode;
      if (!ref.fields.every((f) => f.String !== undefined)) return false;
      out.push(ref);
    } else if (!columnRefs(value, out)) return false;
  }
  return true;
}

const identStart = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) || b === 0x5f || b >= 0x80;
const identPart = (b: number) => identStart(b) || (b >= 0x30 && b <= 0x39) || b === 0x24;

/**
 * The identifier chain written at byte `at` of `text` (`name`, `"Name"`, `r.name`),
 * without whitespace or comments inside it: its decoded names and its end.
 * Undefined for anything else (e.g. `U&"…"`), which then is not compiled.
 */
function chainAt(text: Buffer, at: number): { names: string[]; end: number } | undefined {
  const names: string[] = [];
  let i = at;
  for (;;) {
    if (text[i] === 0x22) {
      let j = i + 1;
      const bytes: number[] = [];
      for (;;) {
        if (j >= text.length) return undefined;
        if (text[j] === 0x22) {
          if (text[j + 1] !== 0x22) break;
          j++;
        }
        bytes.push(text[j] as number);
        j++;
      }
      names.push(Buffer.from(bytes).toString('utf8'));
      i = j + 1;
    } else if (identStart(text[i] ?? 0)) {
      let j = i;
      while (j < text.length && identPart(text[j] as number)) j++;
      // PostgreSQL folds only ASCII letters of an unquoted name (UTF-8 server encoding).
      names.push(
        text
          .subarray(i, j)
          .toString('utf8')
          .replace(/[A-Z]+/g, (s) => s.toLowerCase()),
      );
      i = j;
    } else return undefined;
    if (text[i] !== 0x2e) return { names, end: i };
    i++;
  }
}

/**
 * Compile `expr`, whose column references `columns` maps (read name → stored
 * column; `undefined` for "every name is a column of the row, as stored"), or
 * undefined when it cannot be proved to mean the same as today's form: it does
 * not parse as exactly one expression, or it holds a subquery, a parameter, a
 * whole-row or `*` reference, a reference qualified by anything but the alias
 * `r`, a name PL/pgSQL could read as its own variable, or a name `columns`
 * does not map. Offsets in the parse tree are UTF-8 bytes, so the text is
 * rewritten as bytes.
 */
export function compileExpression(expr: string, columns?: ReadonlyMap<string, string>): CompiledExpression | undefined {
  const text = Buffer.from(`${PREFIX}${expr}\n)`, 'utf8');
  let parsed: { stmts?: { stmt?: { SelectStmt?: Record<string, unknown> } }[] };
  try {
    parsed = parseSync(text.toString('utf8'));
  } catch (err) {
    if (/not initialized/i.test(String((err as Error).message)))
      throw new Error('the PostgreSQL parser is not loaded: await parserReady() before compiling operations');
    return undefined;
  }
  const select = parsed.stmts?.length === 1 ? parsed.stmts[0]?.stmt?.SelectStmt : undefined;
  // Exactly `SELECT (<expr>)`: one target and no other clause smuggled in after a closing parenthesis.
  if (!select || Object.keys(select).some((k) => !['targetList', 'limitOption', 'op'].includes(k))) return undefined;
  const targets = select.targetList as { ResTarget?: { name?: string; val?: unknown } }[];
  if (targets.length !== 1 || targets[0]?.ResTarget?.name !== undefined) return undefined;
  const refs: ColumnRefNode[] = [];
  if (!columnRefs(targets[0]?.ResTarget?.val, refs)) return undefined;
  const pieces: Buffer[] = [];
  const reads = new Set<string>();
  let at = Buffer.byteLength(PREFIX);
  for (const ref of [...refs].sort((a, b) => a.location - b.location)) {
    const names = ref.fields.map((f) => f.String?.sval as string);
    const chain = chainAt(text, ref.location);
    if (!chain || ref.location < at || chain.names.join('\0') !== names.join('\0')) return undefined;
    const name = names.length === 2 && names[0] === 'r' ? names[1] : names.length === 1 && !AMBIGUOUS.has(names[0] as string) ? names[0] : undefined;
    if (name === undefined) return undefined;
    const stored = columns ? columns.get(name) : name;
    if (stored === undefined) return undefined;
    reads.add(stored);
    pieces.push(text.subarray(at, ref.location), Buffer.from(`NEW.${quoteIdent(stored)}`, 'utf8'));
    at = chain.end;
  }
  pieces.push(text.subarray(at, text.length - 2));
  return { sql: Buffer.concat(pieces).toString('utf8'), reads: [...reads] };
}
