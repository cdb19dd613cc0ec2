import { chmodSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { type CliResult, createProject, runFerry, type TestProject } from '../helpers/project.js';
import { openToEveryone, runFerryAsNobody } from '../helpers/unprivileged.js';

const STACK = /\n\s+at .+:\d+:\d+/;

/** A project with one valid migration (0001_create) and, when asked, a second with an SQL syntax error. */
function project(target: TestTarget, withSyntaxError = false): TestProject {
  const p = createProject(target);
  p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;', verify: 'SELECT true' }]);
  if (withSyntaxError) p.migration('0002_syntax', [{ id: 'bad', up: 'CREATE TABLE x (a int,, b int);', down: 'DROP TABLE x;' }]);
  return p;
}

/** The documented error, not an internal one: its code and exit status, the path and reason in the message, no stack trace. */
function expectError(r: CliResult, exit: number, code: string, path: string, reason: string): void {
  expect(r.code, r.stderr).toBe(exit);
  expect(r.stderr).toContain(`[${code}]`);
  expect(r.stderr).toContain(`${path}: ${reason}`);
  expect(r.stderr).not.toContain('bug in ferry');
  expect(r.stderr).not.toMatch(STACK);
}

forEachDriver('unreadable files', (suite) => {
  it('chmod 000 on an SQL file, a manifest or a migration folder is a manifest error naming the path, listed with the other problems (exit 4), for a user root does not stand in for', async () => {
    const target = await suite.fresh();
    const p = project(target, true);
    openToEveryone(p.root);
    const before = await fingerprint(target);

    const sql = p.file('0001_create', 'create.up.sql');
    chmodSync(sql, 0o000);
    const r = await runFerryAsNobody(p.root, ['up']);
    expectError(r, 4, 'E_MANIFEST', sql, 'cannot be read: permission denied');
    expect(r.stderr).toMatch(/0002_syntax\/bad\.up\.sql:1: steps\.0\.forward: syntax error/);
    expect(r.stderr).toContain('(2 problems)');
    chmodSync(sql, 0o644);

    const manifest = p.file('0001_create', 'migration.json');
    chmodSync(manifest, 0o000);
    const json = await runFerryAsNobody(p.root, ['up', '--json']);
    expect(json.code).toBe(4);
    const doc = JSON.parse(json.stdout) as { error: { code: string; message: string } };
    expect(doc.error.code).toBe('E_MANIFEST');
    expect(doc.error.message).toContain(`${manifest}: cannot be read: permission denied`);
    chmodSync(manifest, 0o644);

    const folder = join(p.root, 'migrations', '0001_create');
    chmodSync(folder, 0o000);
    expectError(await runFerryAsNobody(p.root, ['status']), 4, 'E_MANIFEST', folder, 'cannot be read: permission denied');
    chmodSync(folder, 0o755);

    const all = join(p.root, 'migrations');
    chmodSync(all, 0o000);
    expectError(await runFerryAsNobody(p.root, ['up']), 4, 'E_MANIFEST', all, 'cannot be read: permission denied');
    chmodSync(all, 0o755);

    expect(await fingerprint(target)).toBe(before);
  });

  it('chmod 000 on ferry.config.json is a configuration error naming the path and the reason (exit 3)', async () => {
    const target = await suite.fresh();
    const p = project(target);
    openToEveryone(p.root);
    const before = await fingerprint(target);
    const config = join(p.root, 'ferry.config.json');
    chmodSync(config, 0o000);
    expectError(await runFerryAsNobody(p.root, ['up']), 3, 'E_CONFIG', config, 'cannot be read: permission denied');
    const json = await runFerryAsNobody(p.root, ['status', '--json']);
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'E_CONFIG', message: `${config}: cannot be read: permission denied`, hint: expect.any(String) } });
    expect(await fingerprint(target)).toBe(before);
  });

  it('chmod 000 on a backfill or TypeScript step module is a manifest error (exit 4)', async () => {
    const target = await suite.fresh();
    const p = project(target);
    const id = p.migration('0002_modules', [{ id: 'placeholder', up: 'SELECT 1', down: 'SELECT 1' }]);
    writeFileSync(
      p.file(id, 'migration.json'),
      JSON.stringify({
        title: 'modules',
        summary: 'a ts step and a backfill transform',
        type: 'data-format',
        strategy: 'incremental',
        steps: [
          { id: 'touch', kind: 'ts', module: 'touch.ts' },
          { id: 'fill', kind: 'backfill', table: 't', module: 'fill.ts', where: 'a IS NULL' },
        ],
      }),
    );
    writeFileSync(p.file(id, 'touch.ts'), 'export async function forward() {}\nexport async function rollback() {}\n');
    writeFileSync(p.file(id, 'fill.ts'), 'export function transform(row: { a: number }) { return { a: 1 }; }\n');
    openToEveryone(p.root);
    const before = await fingerprint(target);
    chmodSync(p.file(id, 'touch.ts'), 0o000);
    chmodSync(p.file(id, 'fill.ts'), 0o000);
    const r = await runFerryAsNobody(p.root, ['up']);
    expectError(r, 4, 'E_MANIFEST', p.file(id, 'touch.ts'), 'cannot be read: permission denied');
    expect(r.stderr).toContain(`${p.file(id, 'fill.ts')}: cannot be read: permission denied`);
    expect(await fingerprint(target)).toBe(before);
  });

  it('a folder where a file should be, or a symbolic link to nowhere, is named with its reason (exit 4), as root too', async () => {
    const target = await suite.fresh();
    const p = project(target);
    const before = await fingerprint(target);
    const up = p.file('0001_create', 'create.up.sql');
    rmSync(up);
    mkdirSync(up);
    const down = p.file('0001_create', 'create.down.sql');
    rmSync(down);
    symlinkSync('gone.sql', down);
    const verify = p.file('0001_create', 'create.verify.sql');
    rmSync(verify);
    symlinkSync(verify, verify);
    const r = await runFerry(p.root, ['up']);
    expectError(r, 4, 'E_MANIFEST', up, 'cannot be read: is a directory, not a file');
    expect(r.stderr).toContain(`${down}: cannot be read: is a symbolic link to gone.sql, which does not exist`);
    expect(r.stderr).toContain(`${verify}: cannot be read: is a loop of symbolic links`);

    const manifest = p.file('0001_create', 'migration.json');
    rmSync(manifest);
    mkdirSync(manifest);
    expectError(await runFerry(p.root, ['status']), 4, 'E_MANIFEST', manifest, 'cannot be read: is a directory, not a file');

    const dangling = join(p.root, 'migrations', '0002_moved');
    symlinkSync('/nonexistent/0002_moved', dangling);
    expectError(await runFerry(p.root, ['up']), 4, 'E_MANIFEST', dangling, 'is a symbolic link to /nonexistent/0002_moved, which does not exist');
    expect(await fingerprint(target)).toBe(before);
  });
});

describe('unreadable project files', () => {
  const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('not opened')) };

  it('ferry.config.json that is a folder or a broken link is a configuration error (exit 3)', async () => {
    const p = createProject(noDb);
    const config = join(p.root, 'ferry.config.json');
    rmSync(config);
    mkdirSync(config);
    expectError(await runFerry(p.root, ['status']), 3, 'E_CONFIG', config, 'cannot be read: is a directory, not a file');
    rmSync(config, { recursive: true });
    symlinkSync('elsewhere.json', config);
    expectError(await runFerry(p.root, ['status']), 3, 'E_CONFIG', config, 'cannot be read: is a symbolic link to elsewhere.json, which does not exist');
  });

  it('an unreadable ticket or tickets folder is a configuration error naming it (exit 3)', async () => {
    const p = createProject(noDb);
    expect((await runFerry(p.root, ['ticket', 'create', 'first'])).code).toBe(0);
    mkdirSync(join(p.root, 'tickets', '0002-a-folder.md'));
    expectError(await runFerry(p.root, ['ticket', 'list']), 3, 'E_CONFIG', join(p.root, 'tickets', '0002-a-folder.md'), 'cannot be read: is a directory');
    rmSync(join(p.root, 'tickets', '0002-a-folder.md'), { recursive: true });
    openToEveryone(p.root);
    chmodSync(join(p.root, 'tickets'), 0o000);
    expectError(await runFerryAsNobody(p.root, ['ticket', 'list']), 3, 'E_CONFIG', join(p.root, 'tickets'), 'cannot be read: permission denied');
  });

  it('ferry lint on an SQL file that cannot be read names it and the reason (exit 4)', async () => {
    const p = createProject(noDb);
    const file = join(p.root, 'hotfix.sql');
    writeFileSync(file, 'SELECT 1;\n');
    openToEveryone(p.root);
    chmodSync(file, 0o000);
    expectError(await runFerryAsNobody(p.root, ['lint', file]), 4, 'E_MANIFEST', file, 'cannot be read: permission denied');
  });

  it('a .gitignore that is a folder stops ferry init with a configuration error (exit 3)', async () => {
    const p = createProject(noDb);
    const dir = join(p.root, 'fresh');
    mkdirSync(join(dir, '.gitignore'), { recursive: true });
    expectError(await runFerry(dir, ['init']), 3, 'E_CONFIG', join(dir, '.gitignore'), 'cannot be read: is a directory');
  });
});
