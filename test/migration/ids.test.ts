import { readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { isMigrationReference, MIGRATION_ID_RULE, migrationIdProblem, migrationNameProblem } from '../../src/migration/ids.js';
import { loadAll } from '../../src/migration/loader.js';
import { newMigration } from '../../src/project/scaffold.js';
import { forEachDriver } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('no database in id tests')) };
const nameChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789_-');
const validName = fc.tuple(fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789'), fc.string({ unit: nameChar, maxLength: 62 })).map(([a, b]) => a + b);

describe('migration ids: one set of rules', () => {
  it('accepts the ids ferry new writes and the ones the tests and demos use', () => {
    for (const id of ['20261127093000_split_full_name', '0001_create', '0002_split-people', '0001_a', '1_x', `20260101000000_${'n'.repeat(63)}`])
      expect(migrationIdProblem(id), id).toBeUndefined();
  });

  it('refuses quotes, semicolons, spaces, capitals, a missing or too long prefix, and names past 63 bytes, saying why', () => {
    const cases: [string, string][] = [
      ["0002_it's", `"'" is not allowed`],
      ['0002_a;drop', '";" is not allowed'],
      ['0002_a b', '" " is not allowed'],
      ['0002_Create', '"C" is not allowed'],
      ['0002_-x', 'it must start with a lowercase letter or digit'],
      ['create', 'it must start with 1 to 14 digits and "_"'],
      ['0002-create', 'it must start with 1 to 14 digits and "_"'],
      ['123456789012345_x', 'it must start with 1 to 14 digits and "_"'],
      ['0002_', 'the name is empty'],
      [`0002_${'a'.repeat(64)}`, 'is 64 bytes long; a migration name is at most 63 bytes'],
      ['0002_café', 'is not allowed'],
    ];
    for (const [id, why] of cases) expect(migrationIdProblem(id), id).toContain(why);
  });

  it('every name ferry new accepts makes an id the loader accepts, and a name with any other character is refused by both', () => {
    fc.assert(
      fc.property(validName, fc.bigInt({ min: 0n, max: 99_999_999_999_999n }), (name, stamp) => {
        expect(migrationNameProblem(name)).toBeUndefined();
        expect(migrationIdProblem(`${String(stamp).padStart(14, '0')}_${name}`)).toBeUndefined();
      }),
    );
    fc.assert(
      fc.property(
        validName,
        fc.string({ minLength: 1, maxLength: 3 }).filter((s) => /[^a-z0-9_-]/.test(s)),
        (name, bad) => {
          const broken = name.slice(0, 30) + bad;
          expect(migrationNameProblem(broken)).toBeDefined();
          expect(migrationIdProblem(`20260101000000_${broken}`)).toBeDefined();
          expect(isMigrationReference(broken)).toBe(false);
        },
      ),
    );
  });

  it('ferry new refuses a name the loader would refuse, with the same reason', () => {
    const p = createProject(noDb);
    const project = { root: p.root, migrationsDir: join(p.root, 'migrations'), config: {} as never };
    for (const name of ["it's", 'a;b', 'Split']) {
      let err: unknown;
      try {
        newMigration(project, { name, type: 'system', strategy: 'big-bang' });
      } catch (e) {
        err = e;
      }
      expect(isFerryError(err, 'E_USAGE')).toBe(true);
      expect((err as Error).message).toBe(`invalid migration name: ${migrationNameProblem(name)}`);
    }
    expect(readdirSync(join(p.root, 'migrations'))).toEqual([]);
  });

  it('the loader reports a folder whose name breaks the rules as a manifest problem naming the folder and the rule', async () => {
    const p = createProject(noDb);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
    const bad = p.migration('0002_x', [{ id: 'drop', up: 'DROP TABLE t;', down: 'CREATE TABLE t (a int);' }]);
    const renamed = join(p.root, 'migrations', "0002_x'; DROP TABLE t; --");
    renameSync(join(p.root, 'migrations', bad), renamed);
    const err = await loadAll(join(p.root, 'migrations')).catch((e: unknown) => e);
    expect(isFerryError(err, 'E_MANIFEST')).toBe(true);
    expect((err as { details: { problems: string[] } }).details.problems).toEqual([
      `${renamed}: "0002_x'; DROP TABLE t; --" is not a migration id: "x'; DROP TABLE t; --" is not a valid migration name ("'" is not allowed); ${MIGRATION_ID_RULE}`,
    ]);
  });
});

forEachDriver('migration ids on the command line', (suite) => {
  it('ferry up refuses a migration folder whose name breaks the id rules, before anything runs (exit 4)', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
    p.migration("0002_it's", [{ id: 'more', up: 'CREATE TABLE u (a int);', down: 'DROP TABLE u;' }]);
    const before = await fingerprint(target);
    const r = await runFerryJson<{ error: { code: string; message: string } }>(p.root, ['up']);
    expect(r.code).toBe(4);
    expect(r.json.error.code).toBe('E_MANIFEST');
    expect(r.json.error.message).toContain(`${join(p.root, 'migrations', "0002_it's")}: "0002_it's" is not a migration id`);
    expect(r.json.error.message).toContain('a migration id is 1 to 14 digits');
    expect(await fingerprint(target)).toBe(before);
  });

  it('an id argument no migration can have is a usage error stating the rule (exit 2); a valid unknown one is still not found (exit 5)', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
    const before = await fingerprint(target);
    for (const args of [
      ["0001_create'; --"],
      ['up', 'a;b'],
      ['plan', 'x y'],
      ['rollout', 'Bad', 'status'],
      ['ticket', 'create', 'title', '--migration', "it's"],
    ]) {
      const argv = args.length === 1 ? ['up', ...args] : args;
      const r = await runFerryJson<{ error: { code: string; message: string; hint: string } }>(p.root, argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.json.error.message).toMatch(/^not a migration id: /);
      expect(r.json.error.hint).toContain(MIGRATION_ID_RULE);
    }
    const unknown = await runFerry(p.root, ['up', 'no_such_migration']);
    expect(unknown.code).toBe(5);
    expect(await fingerprint(target)).toBe(before);
    const ok = await runFerry(p.root, ['up', 'create']);
    expect(ok.code, ok.stderr).toBe(0);
  });
});
