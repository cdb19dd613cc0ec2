import { loadModule, parseSync } from 'libpg-query';

/** One statement of an SQL script, as PostgreSQL's own parser cut it. */
export interface Statement {
  /** The statement's text, without the trailing semicolon. */
  text: string;
  /** 1-based line of the script where it starts. */
  line: number;
  /** The parse tree node type, e.g. `IndexStmt`, `AlterTableStmt`. */
  node: string;
  /** The parse tree node itself (libpg-query JSON). */
  tree: Record<string, unknown>;
}

/**
 * Where one statement's text lies in its script (UTF-16 offsets as
 * `String.prototype.slice` takes them, end exclusive) and its parse node type:
 * all a cache needs to rebuild the statement.
 */
export interface StatementSpan {
  start: number;
  end: number;
  node: string;
}

/** An SQL script PostgreSQL's parser rejected. */
export class SqlSyntaxError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(message);
  }
}

let ready: Promise<void> | undefined;
let scriptsParsed = 0;

/** Load the PostgreSQL parser (WebAssembly) once per process. */
export function parserReady(): Promise<void> {
  ready ??= loadModule();
  return ready;
}

/** How many whole scripts this process has handed to the parser; lets tests see that a cached script was not parsed again. */
export function scriptsParsedCount(): number {
  return scriptsParsed;
}

/** The 1-based line of each offset (ascending) of `sql`, counted in one pass. */
function linesAt(sql: string, offsets: readonly number[]): number[] {
  const out: number[] = [];
  let line = 1;
  let from = 0;
  for (const offset of offsets) {
    for (let nl = sql.indexOf('\n', from); nl !== -1 && nl < offset; nl = sql.indexOf('\n', nl + 1)) line++;
    from = Math.max(from, offset);
    out.push(line);
  }
  return out;
}

/** Each UTF-8 byte offset (ascending) of `buf` as a UTF-16 offset of the string (`chars` units long) it encodes, in one pass. */
function charOffsets(buf: Buffer, chars: number, bytes: readonly number[]): number[] {
  // An ASCII script (as many bytes as UTF-16 units) needs no decoding: each byte is one unit.
  const ascii = buf.length === chars;
  const out: number[] = [];
  let byte = 0;
  let char = 0;
  for (const b of bytes) {
    const to = Math.min(Math.max(b, byte), buf.length);
    char += ascii ? to - byte : buf.subarray(byte, to).toString('utf8').length;
    byte = to;
    out.push(char);
  }
  return out;
}

/** The UTF-16 offset of the `n`th code point of `sql` (the parser's error position counts characters). */
function codePointOffset(sql: string, n: number): number {
  let i = 0;
  for (let cp = 0; cp < n && i < sql.length; cp++) {
    const c = sql.charCodeAt(i);
    const low = sql.charCodeAt(i + 1);
    i += c >= 0xd800 && c <= 0xdbff && low >= 0xdc00 && low <= 0xdfff ? 2 : 1;
  }
  return i;
}

interface RawStmt {
  stmt?: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

/** Parse a whole script: each statement's span and parse tree. */
function parseScript(sql: string): { spans: StatementSpan[]; trees: Record<string, unknown>[] } {
  let parsed: { stmts?: RawStmt[] };
  scriptsParsed++;
  try {
    parsed = parseSync(sql) as { stmts?: RawStmt[] };
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    throw new SqlSyntaxError((err as Error).message, linesAt(sql, [codePointOffset(sql, details?.cursorPosition ?? 0)])[0] ?? 1);
  }
  const stmts = parsed.stmts ?? [];
  const buf = Buffer.from(sql, 'utf8');
  const bounds = stmts.flatMap((s) => {
    const from = s.stmt_location ?? 0;
    return [from, s.stmt_len ? from + s.stmt_len : buf.length];
  });
  const chars = charOffsets(buf, sql.length, bounds);
  const spans: StatementSpan[] = [];
  const trees: Record<string, unknown>[] = [];
  stmts.forEach((s, i) => {
    const from = chars[2 * i] ?? 0;
    const raw = sql.slice(from, chars[2 * i + 1]);
    const text = raw.trim().replace(/;\s*$/, '');
    const start = from + raw.length - raw.trimStart().length;
    const tree = s.stmt ?? {};
    spans.push({ start, end: start + text.length, node: Object.keys(tree)[0] ?? 'Unknown' });
    trees.push(tree);
  });
  return { spans, trees };
}

/**
 * Cut a script into statements with PostgreSQL's own parser (libpg-query), so
 * semicolons inside strings, dollar quotes and comments are never mistaken for
 * ends of statements. Call {@link parserReady} first.
 */
export function splitStatements(sql: string): Statement[] {
  return splitStatementsWithSpans(sql).statements;
}

/** {@link splitStatements}, with the spans a cache stores to rebuild the same statements without parsing the script again. */
export function splitStatementsWithSpans(sql: string): { statements: Statement[]; spans: StatementSpan[] } {
  const { spans, trees } = parseScript(sql);
  const lines = linesAt(
    sql,
    spans.map((s) => s.start),
  );
  const statements = spans.map((s, i) => ({ text: sql.slice(s.start, s.end), line: lines[i] ?? 1, node: s.node, tree: trees[i] ?? {} }));
  return { statements, spans };
}

/**
 * Rebuild a script's statements from spans a previous parse of the same text
 * produced, without parsing the script. Parse trees are made when one is first
 * read: the script is parsed then, once, and every statement gets its tree
 * (linting reads them all; `status` reads none). Spans must come from
 * {@link splitStatementsWithSpans} on this exact text (a cache checks that);
 * call {@link parserReady} first.
 */
export function statementsFromSpans(sql: string, spans: readonly StatementSpan[]): Statement[] {
  const lines = linesAt(
    sql,
    spans.map((s) => s.start),
  );
  let trees: Record<string, unknown>[] | undefined;
  const treeOf = (i: number): Record<string, unknown> => {
    trees ??= treesOf(sql, spans);
    return trees[i] ?? {};
  };
  return spans.map((s, i) => {
    const statement = { text: sql.slice(s.start, s.end), line: lines[i] ?? 1, node: s.node } as Statement;
    Object.defineProperty(statement, 'tree', {
      enumerable: true,
      configurable: true,
      get() {
        const tree = treeOf(i);
        Object.defineProperty(statement, 'tree', { value: tree, enumerable: true, configurable: true, writable: true });
        return tree;
      },
    });
    return statement;
  });
}

/** Parse the script for its trees; the parse must cut it exactly as the spans say, or the spans were not this script's. */
function treesOf(sql: string, spans: readonly StatementSpan[]): Record<string, unknown>[] {
  const parsed = parseScript(sql);
  const same =
    parsed.spans.length === spans.length && parsed.spans.every((p, i) => p.start === spans[i]?.start && p.end === spans[i]?.end && p.node === spans[i]?.node);
  if (!same) throw new Error('cached statements do not match the script; delete .ferry/cache and run the command again');
  return parsed.trees;
}
