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

/** Load the PostgreSQL parser (WebAssembly) once per process. */
export function parserReady(): Promise<void> {
  ready ??= loadModule();
  return ready;
}

function lineAt(buf: Buffer, byteOffset: number): number {
  let line = 1;
  for (let i = 0; i < Math.min(byteOffset, buf.length); i++) if (buf[i] === 10) line++;
  return line;
}

interface RawStmt {
  stmt?: Record<string, unknown>;
  stmt_location?: number;
  stmt_len?: number;
}

/**
 * Cut a script into statements with PostgreSQL's own parser (libpg-query), so
 * semicolons inside strings, dollar quotes and comments are never mistaken for
 * ends of statements. Call {@link parserReady} first.
 */
export function splitStatements(sql: string): Statement[] {
  const buf = Buffer.from(sql, 'utf8');
  let parsed: { stmts?: RawStmt[] };
  try {
    parsed = parseSync(sql) as { stmts?: RawStmt[] };
  } catch (err) {
    const details = (err as { sqlDetails?: { cursorPosition?: number } }).sqlDetails;
    const pos = details?.cursorPosition ?? 0;
    throw new SqlSyntaxError((err as Error).message, lineAt(buf, pos));
  }
  return (parsed.stmts ?? []).map((s) => {
    const start = s.stmt_location ?? 0;
    const end = s.stmt_len ? start + s.stmt_len : buf.length;
    const raw = buf.subarray(start, end).toString('utf8');
    const lead = raw.length - raw.trimStart().length;
    const tree = s.stmt ?? {};
    return {
      text: raw.trim().replace(/;\s*$/, ''),
      line: lineAt(buf, start + Buffer.byteLength(raw.slice(0, lead))),
      node: Object.keys(tree)[0] ?? 'Unknown',
      tree,
    };
  });
}
