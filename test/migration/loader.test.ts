import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { loadAll } from '../../src/migration/loader.js';
import { createProject } from '../helpers/project.js';

const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('no database in loader tests')) };

async function problemsOf(root: string): Promise<string[]> {
  const err = await loadAll(`${root}/migrations`).catch((e: unknown) => e);
  if (!isFerryError(err, 'E_MANIFEST')) throw new Error(`expected E_MANIFEST, got ${String(err)}`);
  return (err.details as { problems: string[] }).problems;
}

describe('migration loader', () => {
  it('loads a valid migration with defaults, checksums and statements', async () => {
    const p = createProject(noDb);
    p.migration('0001_a', [{ id: 'one', up: 'CREATE TABLE a (x int); CREATE TABLE b (y int);', down: 'DROP TABLE b; DROP TABLE a;', verify: 'SELECT true' }]);
    const [m] = await loadAll(`${p.root}/migrations`);
    expect(m?.manifest.pointOfNoReturn).toBeNull();
    expect(m?.steps[0]).toMatchObject({ id: 'one', kind: 'sql', transaction: true, irreversible: false });
    expect(m?.steps[0]?.forward?.statements.map((s) => s.text)).toEqual(['CREATE TABLE a (x int)', 'CREATE TABLE b (y int)']);
    expect(m?.steps[0]?.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it('the step checksum changes with the forward SQL but not with line endings', async () => {
    const p = createProject(noDb);
    const id = p.migration('0001_a', [{ id: 'one', up: 'CREATE TABLE a (x int);\n', down: 'DROP TABLE a;' }]);
    const first = (await loadAll(`${p.root}/migrations`))[0]?.steps[0]?.checksum;
    writeFileSync(p.file(id, 'one.up.sql'), 'CREATE TABLE a (x int);\r\n');
    expect((await loadAll(`${p.root}/migrations`))[0]?.steps[0]?.checksum).toBe(first);
    writeFileSync(p.file(id, 'one.up.sql'), 'CREATE TABLE a (x bigint);\n');
    expect((await loadAll(`${p.root}/migrations`))[0]?.steps[0]?.checksum).not.toBe(first);
  });

  it('reports every problem of every migration at once, each with its file and field', async () => {
    const p = createProject(noDb);
    const a = p.migration('0001_a', [{ id: 'one', up: 'CREATE TABLE a (x int);' }]);
    p.migration(
      '0002_b',
      [{ id: 'idx', transaction: false, up: 'CREATE INDEX CONCURRENTLY i ON a (x); CREATE INDEX CONCURRENTLY j ON a (x);', down: 'DROP INDEX i;' }],
      {
        strategy: 'yolo',
      },
    );
    p.migration('0003_c', [
      { id: 'dup', up: 'SELECT 1', down: 'SELECT 1' },
      { id: 'dup', up: 'SELECT 1', down: 'SELECT 1' },
    ]);
    const problems = await problemsOf(p.root);
    expect(problems).toEqual(
      expect.arrayContaining([
        `${p.file(a, 'migration.json')}: steps.0.rollback: file one.down.sql does not exist (or mark the step "irreversible": true)`,
        expect.stringMatching(/0002_b\/migration\.json: strategy: Invalid option/),
        expect.stringMatching(/0003_c\/migration\.json: steps\.1\.id: duplicate step id "dup"/),
      ]),
    );
    expect(problems).toHaveLength(3);
  });

  it('a non-transactional step must hold exactly one statement', async () => {
    const p = createProject(noDb);
    p.migration('0001_idx', [
      { id: 'idx', transaction: false, up: 'CREATE INDEX CONCURRENTLY i ON a (x); CREATE INDEX CONCURRENTLY j ON a (x);', down: 'DROP INDEX i;' },
    ]);
    expect(await problemsOf(p.root)).toEqual([
      expect.stringMatching(/idx\.up\.sql: steps\.0\.transaction: a step that runs outside a transaction must hold exactly one statement \(found 2\)/),
    ]);
  });

  it('checks the environments declared checks read against the names it is given, not by re-reading ferry.config.json', async () => {
    const p = createProject(noDb);
    p.migration('0001_c', [{ id: 'one', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;' }], {
      checks: [{ name: 'rows', kind: 'count', source: { table: 'a', env: 'reporting' }, target: { table: 'a' } }],
    });
    const dir = `${p.root}/migrations`;
    const err = await loadAll(dir, { environments: ['local'] }).catch((e: unknown) => e);
    if (!isFerryError(err, 'E_MANIFEST')) throw new Error(`expected E_MANIFEST, got ${String(err)}`);
    expect((err.details as { problems: string[] }).problems).toEqual([
      expect.stringMatching(/0001_c\/migration\.json: checks\.0\.source\.env: no environment "reporting" in ferry\.config\.json \(known: local\)/),
    ]);
    expect((await loadAll(dir, { environments: ['local', 'reporting'] }))[0]?.manifest.checks).toHaveLength(1);
    // The project's ferry.config.json has no "reporting" either: without names given, nothing is read to check them against.
    expect(await loadAll(dir)).toHaveLength(1);
  });

  it('loads a TypeScript manifest and a TypeScript step module', async () => {
    const p = createProject(noDb);
    const id = p.migration('0001_ts', [{ id: 'placeholder', up: 'SELECT 1', down: 'SELECT 1' }]);
    writeFileSync(
      p.file(id, 'migration.ts'),
      `const steps: { id: string; kind: 'ts'; module: string }[] = [{ id: 'transform', kind: 'ts', module: 'transform.ts' }];
       export default { title: 'ts', summary: 'typed manifest', type: 'data-format', strategy: 'incremental', steps };`,
    );
    writeFileSync(p.file(id, 'migration.json'), '');
    const { rmSync } = await import('node:fs');
    rmSync(p.file(id, 'migration.json'));
    writeFileSync(
      p.file(id, 'transform.ts'),
      'export async function forward({ db }: { db: { query(s: string): Promise<unknown> } }) { await db.query("SELECT 1"); }',
    );
    const [m] = await loadAll(`${p.root}/migrations`);
    expect(m?.steps[0]).toMatchObject({ id: 'transform', kind: 'ts' });
    expect(m?.steps[0]?.module).toBe(p.file(id, 'transform.ts'));
  });
});
