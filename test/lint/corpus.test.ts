import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { type LintCatalog, type LintReport, lintSql, readLintCatalog } from '../../src/lint/index.js';
import { forEachDriver } from '../helpers/databases.js';

const CORPUS = join(import.meta.dirname, 'corpus.sql');
const CATALOG_CORPUS = join(import.meta.dirname, 'catalog-corpus.sql');
const CATALOG_FIXTURE = join(import.meta.dirname, 'catalog-fixture.sql');

/** The rule ids in a `-- <label>: a, b` (or `none`) annotation of a corpus statement; undefined when absent. */
function annotation(text: string, label: string): string[] | undefined {
  const m = new RegExp(`^-- ${label}: (.*)$`, 'm').exec(text);
  if (!m?.[1]) return undefined;
  return m[1].trim() === 'none' ? [] : m[1].split(',').map((s) => s.trim());
}

/** The rule ids a corpus statement is annotated with (`-- expect: a, b` or `-- expect: none`). */
function expected(text: string): string[] {
  const rules = annotation(text, 'expect');
  if (!rules) throw new Error(`statement without an expect annotation:\n${text}`);
  return rules;
}

/** The statement itself, without its comment lines. */
function sqlOf(text: string): string {
  return text.replace(/^(\s*--[^\n]*\n)+/, '');
}

describe('the lint corpus', async () => {
  const report = await lintSql(readFileSync(CORPUS, 'utf8'), { file: 'corpus.sql' });

  it('holds at least 40 statements, safe and unsafe', () => {
    expect(report.statements.length).toBeGreaterThanOrEqual(40);
    const safe = report.statements.filter((s) => expected(s.text).length === 0);
    expect(safe.length).toBeGreaterThanOrEqual(15);
    expect(report.statements.length - safe.length).toBeGreaterThanOrEqual(25);
  });

  it.each(report.statements.map((s) => [`line ${s.line}: ${s.text.split('\n').at(-1)}`, s] as const))('%s', (_name, s) => {
    expect(s.findings.map((f) => f.rule).sort()).toEqual(expected(s.text).sort());
  });

  it('every finding explains itself and names the safe alternative', () => {
    for (const f of report.findings) {
      expect(f.file).toBe('corpus.sql');
      expect(f.why.length).toBeGreaterThan(20);
      expect(f.fix.length).toBeGreaterThan(10);
      expect(f.status).toBe('active');
    }
  });
});

/**
 * The file (relfilenode) of every table and index of the fixture's schemas. A
 * table keeps its oid when rewritten; an index rebuilt by ALTER TYPE is a new
 * one, so indexes are known by their table's oid and their name.
 */
async function fileNodes(db: Pick<Database, 'query'>): Promise<Map<string, number>> {
  const r = await db.query<{ key: string; node: number }>(
    `SELECT CASE c.relkind WHEN 'r' THEN 'table ' || c.oid ELSE 'index ' || i.indrelid || ' ' || c.relname END AS key, c.relfilenode::int AS node
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_index i ON i.indexrelid = c.oid
      WHERE n.nspname IN ('public', 'app') AND c.relkind IN ('r', 'i')`,
  );
  return new Map(r.rows.map((x) => [x.key, x.node]));
}

/** The rules whose findings say a statement copies a table or rebuilds an index. */
const REWRITING_RULES = ['column-type-change', 'table-rewrite', 'reindex-not-concurrent'];

forEachDriver('the catalog-aware lint corpus', (suite) => {
  const sql = readFileSync(CATALOG_CORPUS, 'utf8');
  let catalog: LintCatalog;
  let report: LintReport;
  let without: LintReport;
  /** For each statement: the fixture relations (there before the script) whose file changed when it ran. */
  const rewritten: string[][] = [];

  beforeAll(async () => {
    const db = await (await suite.fresh()).open();
    try {
      await db.exec(readFileSync(CATALOG_FIXTURE, 'utf8'));
      catalog = await readLintCatalog(db);
      report = await lintSql(sql, { file: 'catalog-corpus.sql', catalog });
      without = await lintSql(sql, { file: 'catalog-corpus.sql' });
      const fixture = await fileNodes(db);
      await db.transaction(async (tx) => {
        for (const s of report.statements) {
          const before = await fileNodes(tx);
          await tx.exec(sqlOf(s.text));
          const after = await fileNodes(tx);
          rewritten.push([...before].filter(([key, node]) => fixture.has(key) && after.has(key) && after.get(key) !== node).map(([key]) => key));
        }
      });
    } finally {
      await db.close();
    }
  }, 120_000);

  it('holds the catalog-aware cases: safe widenings, sized rewrites, the new error rules, indexes by schema', () => {
    expect(report.statements.length).toBeGreaterThanOrEqual(40);
    const differ = report.statements.filter((s) => annotation(s.text, 'without catalog') !== undefined);
    expect(differ.length).toBeGreaterThanOrEqual(12);
    expect(report.catalog).toMatchObject({ searchPath: ['public'], tables: 4 });
  });

  it('with the catalog, every statement is flagged with exactly its expected rules', () => {
    const got = report.statements.map((s) => [s.line, s.findings.map((f) => f.rule).sort()]);
    expect(got).toEqual(report.statements.map((s) => [s.line, expected(s.text).sort()]));
  });

  it('without a catalog, every statement is flagged as before (the `without catalog` rules where given)', () => {
    const got = without.statements.map((s) => [s.line, s.findings.map((f) => f.rule).sort()]);
    expect(got).toEqual(without.statements.map((s) => [s.line, (annotation(s.text, 'without catalog') ?? expected(s.text)).sort()]));
  });

  it('a statement the linter does not flag as a rewrite changed no file of an existing table or index when it ran', () => {
    const unsound = report.statements
      .map((s, i) => ({ line: s.line, rules: s.findings.map((f) => f.rule), rewritten: rewritten[i] ?? [] }))
      .filter((x) => !x.rules.some((r) => REWRITING_RULES.includes(r)) && x.rewritten.length > 0);
    expect(unsound).toEqual([]);
    const safeWidenings = report.statements.filter((s, i) => /TYPE/.test(sqlOf(s.text)) && s.findings.length === 0 && (rewritten[i]?.length ?? 1) === 0);
    expect(safeWidenings.length).toBeGreaterThanOrEqual(6);
  });

  it('the type changes it flags as rewrites did rewrite the table or rebuild an index when they ran', () => {
    const flagged = report.statements
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => s.findings.some((f) => f.rule === 'column-type-change') && /ALTER COLUMN (age|total|handle|email|id) TYPE/.test(sqlOf(s.text)));
    expect(flagged.length).toBe(5);
    for (const { s, i } of flagged) expect([s.line, (rewritten[i] ?? []).length > 0]).toEqual([s.line, true]);
  });

  it('findings on existing tables carry the size the catalog measured (rows and bytes)', () => {
    for (const s of report.statements) {
      const table = annotation(s.text, 'size')?.[0];
      if (!table) continue;
      const [schema, name] = table.split('.');
      const measured = catalog.tables.find((t) => t.schema === schema && t.name === name);
      const f = s.findings[0];
      expect(f?.catalog).toMatchObject({ table, found: true, rows: measured?.rows, bytes: measured?.bytes });
      expect(f?.message).toContain(`(${table}: ~${measured?.rows?.toLocaleString('en-US')} rows, `);
    }
    expect(report.statements.filter((s) => annotation(s.text, 'size')).length).toBeGreaterThanOrEqual(12);
    expect(without.findings.some((f) => f.catalog !== undefined)).toBe(false);
  });

  it('REINDEX, LOCK TABLE and DROP INDEX on existing objects are errors', () => {
    const rules = ['reindex-not-concurrent', 'lock-table', 'drop-index-not-concurrent'];
    const found = report.findings.filter((f) => rules.includes(f.rule));
    expect(new Set(found.map((f) => f.rule))).toEqual(new Set(rules));
    for (const f of found) expect(f.severity).toBe('error');
  });
});
