import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scriptsParsedCount } from '../../src/db/sql-script.js';
import type { LintCatalog } from '../../src/lint/catalog.js';
import { lintMigration } from '../../src/lint/index.js';
import { loadAll } from '../../src/migration/loader.js';
import { projectParseCache } from '../../src/migration/parse-cache.js';
import { createProject, type TestProject } from '../helpers/project.js';

const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('no database in lint cache tests')) };

/** A migration big enough for the parse cache, with a finding (an index built without CONCURRENTLY on an existing table). */
function project(): { p: TestProject; id: string } {
  const p = createProject(noDb);
  const rows = Array.from({ length: 800 }, (_, i) => `  (${i}, 'row ${i} é')`).join(',\n');
  const id = p.migration('0001_big', [
    { id: 'fill', up: `INSERT INTO existing (a, b) VALUES\n${rows};\nCREATE INDEX existing_a ON existing (a);\n`, down: 'DELETE FROM existing;' },
  ]);
  return { p, id };
}

const load = async (p: TestProject) =>
  (await loadAll(join(p.root, 'migrations'), { cache: projectParseCache(p.root) }))[0] as NonNullable<Awaited<ReturnType<typeof loadAll>>[0]>;
const lintDir = (p: TestProject) => join(p.root, '.ferry', 'cache', 'lint');

describe('lint cache', () => {
  it('reuses the report of an unchanged migration: equal findings, no statement parsed into trees', async () => {
    const { p } = project();
    const first = lintMigration(await load(p));
    expect(first.findings.map((f) => f.rule)).toContain('index-not-concurrent');
    const m = await load(p);
    const parsed = scriptsParsedCount();
    const again = lintMigration(m);
    expect(scriptsParsedCount()).toBe(parsed);
    expect(again).toEqual(JSON.parse(JSON.stringify(first)));
  });

  it('lints afresh when the migration or the catalog changes', async () => {
    const { p, id } = project();
    lintMigration(await load(p));
    const file = p.file(id, 'fill.up.sql');
    writeFileSync(file, readFileSync(file, 'utf8').replace('CREATE INDEX existing_a', 'CREATE INDEX CONCURRENTLY existing_a'));
    const edited = await load(p);
    const report = lintMigration(edited);
    expect(report.findings.map((f) => f.rule)).not.toContain('index-not-concurrent');
    const catalog: LintCatalog = { searchPath: ['public'], tables: [], indexes: [] };
    const withCatalog = lintMigration(edited, { catalog });
    expect(withCatalog.catalog).toEqual({ searchPath: ['public'], tables: 0, indexes: 0 });
    expect(readdirSync(lintDir(p)).filter((n) => n.endsWith('.json'))).toHaveLength(3);
  });

  it('a damaged entry is ignored, linted afresh and replaced', async () => {
    const { p } = project();
    const first = lintMigration(await load(p));
    const [entry] = readdirSync(lintDir(p)).filter((n) => n.endsWith('.json'));
    const path = join(lintDir(p), entry as string);
    const text = readFileSync(path, 'utf8');
    for (const damage of [text.slice(0, text.length / 2), '', text.replace('index-not-concurrent', 'index-is-fine')]) {
      writeFileSync(path, damage);
      const parsed = scriptsParsedCount();
      expect(lintMigration(await load(p))).toEqual(JSON.parse(JSON.stringify(first)));
      expect(scriptsParsedCount()).toBeGreaterThan(parsed);
      expect(readFileSync(path, 'utf8')).toBe(text);
    }
  });
});
