import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { z } from 'zod';
import { type Statement, type StatementSpan, splitStatementsWithSpans, statementsFromSpans } from '../db/sql-script.js';

/**
 * The version of what an entry holds and of how ferry cuts statements; bump it
 * whenever either changes, so entries written before are never read.
 */
export const PARSE_CACHE_FORMAT = 1;

/** The PostgreSQL parser's package version: a new parser may cut the same text differently, so it is part of every key. */
export const PARSER_VERSION: string = (() => {
  try {
    return String((createRequire(import.meta.url)('libpg-query/package.json') as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();

/** Scripts smaller than this parse faster than an entry is read; they are not cached. */
export const DEFAULT_MIN_BYTES = 16 * 1024;

/** Temporary files older than this were left by a killed process. */
const STALE_TEMP_MS = 10 * 60 * 1000;

const entrySchema = z.object({
  format: z.literal(PARSE_CACHE_FORMAT),
  parser: z.string(),
  key: z.string(),
  digest: z.string(),
  spans: z.array(z.tuple([z.number().int().nonnegative(), z.number().int().nonnegative(), z.string().regex(/^[A-Za-z_]+$/)])),
});

/** What one cache instance did: scripts read from it, parsed and stored, and entries removed. */
export interface ParseCacheStats {
  hits: number;
  misses: number;
  written: number;
  pruned: number;
}

/** The checksum of an entry's content: its key (which binds it to one script's text) and every span, so damage anywhere in it is seen. */
function digestOf(key: string, spans: readonly StatementSpan[]): string {
  return createHash('sha256')
    .update(key)
    .update(JSON.stringify(spans.map((s) => [s.start, s.end, s.node])))
    .digest('hex');
}

function keyOf(sql: string): string {
  return createHash('sha256').update(`ferry-parse-cache\0${PARSE_CACHE_FORMAT}\0${PARSER_VERSION}\0`).update(sql).digest('hex');
}

const blank = /\s/;

/** Spans that lie inside the script, in order, without overlap, each cutting a statement's trimmed text. */
function spansFit(spans: readonly StatementSpan[], sql: string): boolean {
  let last = 0;
  for (const s of spans) {
    if (s.start < last || s.end <= s.start || s.end > sql.length) return false;
    if (blank.test(sql.charAt(s.start)) || blank.test(sql.charAt(s.end - 1))) return false;
    last = s.end;
  }
  return true;
}

/**
 * Parsed SQL scripts kept on disk by content: an unchanged file is not parsed
 * again. Each entry is keyed by the sha256 of the script's text, the parser's
 * version and {@link PARSE_CACHE_FORMAT}; it is written atomically and checked
 * against the text when read, so a damaged or foreign entry is parsed afresh
 * and replaced, never trusted. Writing is best effort: a read-only folder only
 * means no cache.
 */
export class ParseCache {
  /** What this instance did so far. */
  readonly stats: ParseCacheStats = { hits: 0, misses: 0, written: 0, pruned: 0 };
  private readonly used = new Set<string>();
  private readonly minBytes: number;

  /** A cache in `dir` (created when first written); scripts under `minBytes` bytes are parsed every time. */
  constructor(
    readonly dir: string,
    opts: { minBytes?: number } = {},
  ) {
    this.minBytes = opts.minBytes ?? DEFAULT_MIN_BYTES;
  }

  /** The statements of a script, as {@link splitStatementsWithSpans} cuts them; throws `SqlSyntaxError` the same way. Call `parserReady` first. */
  statementsOf(sql: string): Statement[] {
    if (sql.length < this.minBytes && Buffer.byteLength(sql) < this.minBytes) return splitStatementsWithSpans(sql).statements;
    const key = keyOf(sql);
    this.used.add(key);
    const cached = this.read(key, sql);
    if (cached) {
      this.stats.hits++;
      return cached;
    }
    this.stats.misses++;
    const { statements, spans } = splitStatementsWithSpans(sql);
    this.write(key, spans);
    return statements;
  }

  /** Remove entries no script read through this instance used (edited or deleted files, older parsers) and temporary files of killed processes. */
  prune(): void {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const entry = /^([0-9a-f]{64})\.json$/.exec(name);
      const stale = entry ? !this.used.has(entry[1] as string) : name.endsWith('.tmp') && this.olderThan(name, STALE_TEMP_MS);
      if (!stale) continue;
      try {
        unlinkSync(join(this.dir, name));
        this.stats.pruned++;
      } catch {
        // Another process removed or holds it; the next run tries again.
      }
    }
  }

  private olderThan(name: string, ms: number): boolean {
    try {
      return Date.now() - statSync(join(this.dir, name)).mtimeMs > ms;
    } catch {
      return false;
    }
  }

  private read(key: string, sql: string): Statement[] | undefined {
    let raw: unknown;
    try {
      raw = JSON.parse(readFileSync(join(this.dir, `${key}.json`), 'utf8'));
    } catch {
      return undefined;
    }
    const entry = entrySchema.safeParse(raw);
    if (!entry.success || entry.data.key !== key || entry.data.parser !== PARSER_VERSION) return undefined;
    const spans = entry.data.spans.map(([start, end, node]) => ({ start, end, node }));
    if (entry.data.digest !== digestOf(key, spans) || !spansFit(spans, sql)) return undefined;
    return statementsFromSpans(sql, spans);
  }

  private write(key: string, spans: readonly StatementSpan[]): void {
    const entry = { format: PARSE_CACHE_FORMAT, parser: PARSER_VERSION, key, digest: digestOf(key, spans), spans: spans.map((s) => [s.start, s.end, s.node]) };
    if (writeEntry(this.dir, key, JSON.stringify(entry))) this.stats.written++;
  }
}

/**
 * Write `text` as entry `<key>.json` of cache folder `dir` atomically (a
 * temporary file renamed into place), so a killed writer never leaves half an
 * entry. Best effort: false when it could not be written. The folder gets a
 * .gitignore of its own, so a project that does not ignore `.ferry/` never
 * commits a cache.
 */
export function writeEntry(dir: string, key: string, text: string): boolean {
  const temp = join(dir, `${key}.${process.pid}-${randomBytes(4).toString('hex')}.tmp`);
  try {
    mkdirSync(dir, { recursive: true });
    try {
      writeFileSync(join(dir, '.gitignore'), '*\n', { flag: 'wx' });
    } catch {
      // Already there.
    }
    writeFileSync(temp, text);
    renameSync(temp, join(dir, `${key}.json`));
    return true;
  } catch {
    try {
      unlinkSync(temp);
    } catch {
      // Never written.
    }
    return false;
  }
}

/** A project's parse cache: `<root>/.ferry/cache`, next to the embedded database (`ferry init` git-ignores `.ferry/`). */
export function projectParseCache(root: string): ParseCache {
  return new ParseCache(join(root, '.ferry', 'cache'));
}
