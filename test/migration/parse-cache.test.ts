import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parserReady, SqlSyntaxError, scriptsParsedCount, splitStatements } from '../../src/db/sql-script.js';
import { loadAll } from '../../src/migration/loader.js';
import { DEFAULT_MIN_BYTES, PARSER_VERSION, ParseCache, projectParseCache } from '../../src/migration/parse-cache.js';
import { createProject } from '../helpers/project.js';

const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('no database in parse cache tests')) };

const text = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ';', "'", '"', '$', ' ', '\n', '\r\n', '-', '*', '/', 'ß', '中', '\t'), maxLength: 20 });
const tag = fc.constantFrom('', 'x', 'body');

/** Statements whose text holds semicolons, quotes, multi-byte letters and line breaks that do not end them. */
const statement = fc.oneof(
  text.map((s) => `SELECT '${s.replaceAll("'", "''")}'`),
  fc.tuple(tag, text).map(([t, s]) => `SELECT $${t}$${s.replaceAll('$', '')}$${t}$`),
  text.map((s) => `CREATE TABLE "${s.replaceAll('"', '""') || 't'}" (a int, b text DEFAULT 'x')`),
  text.map((s) => `INSERT INTO t (a, b) VALUES\n  (1, '${s.replaceAll("'", "''")}'),\n  (2, NULL)`),
  fc.constant('CREATE INDEX CONCURRENTLY i ON t (a)'),
  fc.constant('ALTER TABLE t ADD COLUMN c int NOT NULL DEFAULT 0'),
);
/** What may stand between statements: the semicolon, with or without line breaks and comments around it. */
const separator = fc.constantFrom(';\n', ';', ' ;\r\n', ';\n-- note é; not a statement\n', ';\n/* c; ü */ ', ';\n\n\t');
const script = fc
  .tuple(
    fc.constantFrom('', '\n\n', '-- head\n', '  '),
    fc.array(fc.tuple(statement, separator), { minLength: 0, maxLength: 6 }),
    fc.constantFrom('', ';', ';\n', '\n'),
  )
  .map(([lead, parts, tail]) => `${lead}${parts.map(([s, sep]) => s + sep).join('')}${parts.length ? `SELECT 'last'${tail}` : ''}`)
  // The parser refuses a script with nothing but blanks in it, cache or not.
  .filter((sql) => sql.trim() !== '');

/** A script over the default size threshold: enough rows to be worth keeping. */
function bigScript(rows: number, table = 't'): string {
  const values = Array.from({ length: rows }, (_, i) => `  (${i}, 'row ${i} — é 😀; ok')`).join(',\n');
  return `CREATE TABLE ${table} (a int, b text);\nINSERT INTO ${table} (a, b) VALUES\n${values};\nCREATE INDEX ${table}_a ON ${table} (a);\n`;
}

const entries = (dir: string) => readdirSync(dir).filter((n) => n.endsWith('.json'));

describe('parse cache', () => {
  beforeAll(() => parserReady());

  it('rebuilds exactly the statements a fresh parse cuts, trees included, without parsing the script on load', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-parse-cache-'));
    fc.assert(
      fc.property(script, (sql) => {
        const fresh = splitStatements(sql);
        const writer = new ParseCache(dir, { minBytes: 0 });
        expect(writer.statementsOf(sql)).toEqual(fresh);

        const reader = new ParseCache(dir, { minBytes: 0 });
        const parsedBefore = scriptsParsedCount();
        const cached = reader.statementsOf(sql);
        expect(reader.stats.hits).toBe(1);
        expect(cached.map((s) => [s.text, s.line, s.node])).toEqual(fresh.map((s) => [s.text, s.line, s.node]));
        expect(scriptsParsedCount()).toBe(parsedBefore);
        // Reading the trees parses the script once, for all of them.
        expect(cached).toEqual(fresh);
        expect(scriptsParsedCount()).toBe(parsedBefore + (fresh.length > 0 ? 1 : 0));
      }),
      { numRuns: 150 },
    );
  });

  it('a second load of an unchanged project reads every script from the cache and parses none', async () => {
    const p = createProject(noDb);
    p.migration('0001_a', [{ id: 'seed', up: bigScript(50), down: 'DROP TABLE t;', verify: 'SELECT count(*) = 50 FROM t' }]);
    p.migration('0002_b', [{ id: 'more', up: 'ALTER TABLE t ADD COLUMN c int;', down: 'ALTER TABLE t DROP COLUMN c;' }]);
    const at = join(p.root, '.ferry', 'cache');
    const first = new ParseCache(at, { minBytes: 0 });
    const fresh = await loadAll(`${p.root}/migrations`, { cache: first });
    expect(first.stats).toMatchObject({ hits: 0, misses: 5, written: 5 });

    const second = new ParseCache(at, { minBytes: 0 });
    const parsedBefore = scriptsParsedCount();
    const again = await loadAll(`${p.root}/migrations`, { cache: second });
    expect(scriptsParsedCount()).toBe(parsedBefore);
    expect(second.stats).toMatchObject({ hits: 5, misses: 0, written: 0, pruned: 0 });
    expect(again.map((m) => m.checksum)).toEqual(fresh.map((m) => m.checksum));
    expect(again[0]?.steps[0]?.forward?.statements).toEqual(fresh[0]?.steps[0]?.forward?.statements);
  });

  it('an edited script misses the cache, is parsed afresh, and the entry of its old text is removed', async () => {
    const p = createProject(noDb);
    const id = p.migration('0001_a', [{ id: 'seed', up: bigScript(600), down: 'DROP TABLE t;' }]);
    const at = join(p.root, '.ferry', 'cache');
    await loadAll(`${p.root}/migrations`, { cache: projectParseCache(p.root) });
    const [before] = entries(at);

    writeFileSync(p.file(id, 'seed.up.sql'), bigScript(600).replace("(7, 'row 7", "(7, 'row seven"));
    const cache = projectParseCache(p.root);
    const [m] = await loadAll(`${p.root}/migrations`, { cache });
    expect(cache.stats).toMatchObject({ hits: 0, misses: 1, written: 1, pruned: 1 });
    expect(m?.steps[0]?.forward?.statements[1]?.text).toContain("(7, 'row seven — é 😀; ok')");
    expect(entries(at)).toHaveLength(1);
    expect(entries(at)).not.toContain(before);
  });

  describe('a damaged or foreign entry is ignored, parsed afresh and replaced', () => {
    const sql = bigScript(600);
    const other = bigScript(600, 'u');
    const damage: [string, (entry: string, dir: string) => string][] = [
      ['cut short, as a torn write leaves it', (e) => e.slice(0, Math.floor(e.length / 2))],
      ['empty', () => ''],
      ['not JSON at all', () => '\u0000\u0001garbage'],
      ['a span moved by one character', (e) => e.replace(/\[(\d+),/, (_m, n: string) => `[${Number(n) + 1},`)],
      ['spans past the end of the script', (e) => e.replace(/"spans":\[/, '"spans":[[0,99999999,"InsertStmt"],')],
      ['written by another parser', (e) => e.replace(`"parser":"${PARSER_VERSION}"`, '"parser":"0.0.0"')],
      ['of an older cache format', (e) => e.replace(/"format":\d+/, '"format":0')],
      [
        "another script's entry under this script's name",
        (_e, dir) => {
          const foreign = new ParseCache(join(dir, 'foreign'));
          foreign.statementsOf(other);
          return readFileSync(join(dir, 'foreign', entries(join(dir, 'foreign'))[0] as string), 'utf8');
        },
      ],
    ];

    it.each(damage)('%s', (_name, spoil) => {
      const dir = mkdtempSync(join(tmpdir(), 'ferry-parse-cache-'));
      const fresh = splitStatements(sql);
      new ParseCache(dir).statementsOf(sql);
      const [name] = entries(dir);
      const file = join(dir, name as string);
      writeFileSync(file, spoil(readFileSync(file, 'utf8'), dir));

      const cache = new ParseCache(dir);
      expect(cache.statementsOf(sql)).toEqual(fresh);
      expect(cache.stats).toMatchObject({ hits: 0, misses: 1, written: 1 });

      const next = new ParseCache(dir);
      expect(next.statementsOf(sql)).toEqual(fresh);
      expect(next.stats.hits).toBe(1);
    });
  });

  it('scripts under the size threshold are parsed every time and leave no cache behind', async () => {
    const p = createProject(noDb);
    p.migration('0001_a', [{ id: 'one', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;' }]);
    const cache = projectParseCache(p.root);
    await loadAll(`${p.root}/migrations`, { cache });
    expect(Buffer.byteLength(bigScript(600))).toBeGreaterThan(DEFAULT_MIN_BYTES);
    expect(cache.stats).toMatchObject({ hits: 0, misses: 0, written: 0 });
    expect(existsSync(join(p.root, '.ferry', 'cache'))).toBe(false);
  });

  it('a script that does not parse is reported with its line, as without a cache, and never stored', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-parse-cache-'));
    const sql = `${bigScript(600)}\nSELECT (;\n`;
    const err = (() => {
      try {
        new ParseCache(dir).statementsOf(sql);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SqlSyntaxError);
    expect((err as SqlSyntaxError).line).toBe(sql.split('\n').length - 1);
    expect(existsSync(dir) ? entries(dir) : []).toEqual([]);
  });

  it('keeps its folder out of git, and prune removes stale temporary files of killed writers but not fresh ones', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ferry-parse-cache-')), 'cache');
    const cache = new ParseCache(dir);
    cache.statementsOf(bigScript(600));
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toBe('*\n');
    mkdirSync(dir, { recursive: true });
    const stale = join(dir, `${'a'.repeat(64)}.123-deadbeef.tmp`);
    const fresh = join(dir, `${'b'.repeat(64)}.456-cafebabe.tmp`);
    writeFileSync(stale, '{"format":');
    writeFileSync(fresh, '{"format":');
    const hourAgo = new Date(Date.now() - 3600_000);
    utimesSync(stale, hourAgo, hourAgo);
    cache.prune();
    expect(existsSync(stale)).toBe(false);
    expect(existsSync(fresh)).toBe(true);
    expect(entries(dir)).toHaveLength(1);
    expect(existsSync(join(dir, '.gitignore'))).toBe(true);
  });
});
