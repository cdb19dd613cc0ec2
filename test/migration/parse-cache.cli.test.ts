import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachDriver } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('lint needs no database')) };

/** A step big enough for the cache: a table and `rows` rows in one multi-row INSERT. */
function seedScript(rows: number): string {
  const values = Array.from({ length: rows }, (_, i) => `  (${i}, 'ship ${i} — Zürich; O''Brien')`).join(',\n');
  return `CREATE TABLE ships (id int PRIMARY KEY, name text NOT NULL);\nINSERT INTO ships (id, name) VALUES\n${values};\nCREATE INDEX ships_name ON ships (name);\n`;
}

const cacheEntries = (root: string) =>
  readdirSync(join(root, '.ferry', 'cache'))
    .filter((n) => n.endsWith('.json'))
    .map((n) => join(root, '.ferry', 'cache', n));

forEachDriver('the CLI keeps parsed SQL in .ferry/cache', ({ fresh }) => {
  it('status fills the cache, a damaged entry is replaced, and up applies the statements read from it', async () => {
    const p = createProject(await fresh());
    p.migration('0001_seed', [{ id: 'seed', up: seedScript(800), down: 'DROP TABLE ships;', verify: 'SELECT count(*) = 800 FROM ships' }]);

    const first = await runFerryJson<{ migrations: { id: string; appliedCount: number }[] }>(p.root, ['status']);
    expect(first.code).toBe(0);
    const [entry] = cacheEntries(p.root);
    expect(cacheEntries(p.root)).toHaveLength(1);
    expect(readFileSync(join(p.root, '.ferry', 'cache', '.gitignore'), 'utf8')).toBe('*\n');
    const written = readFileSync(entry as string, 'utf8');

    writeFileSync(entry as string, written.slice(0, 40));
    const second = await runFerryJson<typeof first.json>(p.root, ['status']);
    expect(second.code).toBe(0);
    expect(second.json.migrations).toEqual(first.json.migrations);
    expect(readFileSync(entry as string, 'utf8')).toBe(written);

    const up = await runFerry(p.root, ['up']);
    expect(up.code, up.stderr).toBe(0);
    // The step's verify SQL counts the 800 rows the cached INSERT statements wrote.
    const verify = await runFerry(p.root, ['verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);
    expect(cacheEntries(p.root)).toEqual([entry]);
  });
});

describe('ferry lint with the parse cache', () => {
  it('reports exactly the same findings, lines and locks from cached statements as from a fresh parse', async () => {
    const p = createProject(noDb);
    const script = `${seedScript(800)}CREATE INDEX users_email ON users (email);\nALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();\n`;
    p.migration('0001_seed', [{ id: 'seed', up: script, down: 'DROP TABLE ships;' }]);
    const cold = await runFerryJson<{ reports: { findings: { rule: string; line: number }[] }[] }>(p.root, ['lint']);
    expect(cold.code).toBe(15);
    expect(cacheEntries(p.root)).toHaveLength(1);
    expect(cold.json.reports[0]?.findings.map((f) => [f.rule, f.line])).toEqual(
      expect.arrayContaining([
        ['index-not-concurrent', 804],
        ['volatile-default', 805],
      ]),
    );
    const warm = await runFerryJson(p.root, ['lint']);
    expect(warm.code).toBe(15);
    expect(warm.stdout).toBe(cold.stdout);
  });
});
