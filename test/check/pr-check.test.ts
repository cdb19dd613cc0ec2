import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import { prCheck, prCheckRefusal } from '../../src/workflow/pr-check.js';
import { emptyServerTarget } from '../helpers/databases.js';
import { git, nestedRepoProject, projectWithoutDatabase, repoProject, SAFE_TABLE, UNSAFE_INDEX, USERS } from './fixture.js';

/** prCheck without the CI's environment variables (GITHUB_BASE_REF) leaking in. */
const check = (projectDir: string, more: { base?: string; env?: string; processEnv?: NodeJS.ProcessEnv } = {}) =>
  prCheck({ projectDir, processEnv: {}, ...more });

async function refusal(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof FerryError)) throw new Error(`expected a FerryError, got ${String(err)}`);
  return err;
}

describe('prCheck: the migrations a branch adds, against its base', () => {
  it('an unsafe migration committed on a branch fails the check, naming its file and line', async () => {
    const p = repoProject();
    const id = p.migration('20260102000000_users_email_idx', [UNSAFE_INDEX]);
    p.commit('index');
    const report = await check(p.root);
    expect(report.base).toBe('main');
    expect(report.mergeBase).toBe(git(p.root, 'rev-parse', 'main').trim());
    expect(report.changed).toEqual([id]);
    expect(report.ok).toBe(false);
    expect(report.findings).toContainEqual(
      expect.objectContaining({ migrationId: id, file: `migrations/${id}/add-index.up.sql`, line: 2, level: 'error', rule: 'index-not-concurrent' }),
    );
    expect(report.findings.every((f) => f.migrationId === id)).toBe(true);
    expect(prCheckRefusal(report)?.code).toBe('E_LINT');
  });

  it('a safe migration, still untracked, passes: it is found, and the base migration is not', async () => {
    const p = repoProject();
    const id = p.migration('20260102000000_orders', [SAFE_TABLE]);
    const report = await check(p.root);
    expect(report.changed).toEqual([id]);
    expect(report.findings.filter((f) => f.level === 'error')).toEqual([]);
    expect(report.ok).toBe(true);
    expect(prCheckRefusal(report)).toBeUndefined();
  });

  it('an edit of a migration on main makes it changed; an error the manifest acknowledges is shown but passes', async () => {
    const p = repoProject();
    writeFileSync(p.file(USERS, 'create.up.sql'), 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\nCREATE INDEX users_email_idx ON users (email);\n');
    const id = p.migration('20260102000000_users_email_idx', [UNSAFE_INDEX], { lint: { acknowledge: ['add-index:index-not-concurrent'] } });
    p.commit('both');
    const report = await check(p.root);
    expect(report.changed).toEqual([USERS, id]);
    const ack = report.findings.find((f) => f.migrationId === id && f.rule === 'index-not-concurrent');
    expect(ack).toMatchObject({ level: 'error', acknowledged: true, line: 2 });
    // users is created in the same migration: its index is no finding.
    expect(report.findings.filter((f) => f.migrationId === USERS && f.level === 'error')).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('every manifest problem is a finding on the manifest file, not only the first', async () => {
    const p = repoProject();
    const a = p.migration('20260102000000_broken_type', [SAFE_TABLE], { type: 'no-such-type' });
    const b = p.migration('20260103000000_missing_file', [{ id: 'create', up: 'SELECT 1;\n' }]);
    const report = await check(p.root);
    expect(report.changed).toEqual([a, b]);
    const manifest = report.findings.filter((f) => f.rule === 'manifest');
    expect(manifest.map((f) => [f.migrationId, f.file, f.level])).toEqual([
      [a, `migrations/${a}/migration.json`, 'error'],
      [b, `migrations/${b}/migration.json`, 'error'],
    ]);
    expect(manifest[0]?.message).toMatch(/^type: /);
    expect(manifest[1]?.message).toMatch(/steps\.0\.rollback: file create\.down\.sql does not exist/);
    expect(report.ok).toBe(false);
    expect(prCheckRefusal(report)?.code).toBe('E_MANIFEST');
  });

  it('a base ref that does not exist is a usage error naming it and the fix', async () => {
    const p = repoProject();
    const err = await refusal(check(p.root, { base: 'origin/nope' }));
    expect(err.code).toBe('E_USAGE');
    expect(err.message).toContain('"origin/nope"');
    expect(err.hint).toContain('--base <ref>');
    expect(err.hint).toContain('fetch-depth: 0');
    const ci = await refusal(check(p.root, { processEnv: { GITHUB_BASE_REF: 'release' } }));
    expect(ci.code).toBe('E_USAGE');
    expect(ci.message).toContain('"origin/release"');
  });

  it('GITHUB_BASE_REF names the pull request target, read from origin', async () => {
    const p = repoProject();
    git(p.root, 'update-ref', 'refs/remotes/origin/main', 'main');
    const id = p.migration('20260102000000_orders', [SAFE_TABLE]);
    const report = await check(p.root, { processEnv: { GITHUB_BASE_REF: 'main' } });
    expect(report.base).toBe('origin/main');
    expect(report.changed).toEqual([id]);
    // Without it, origin/main comes before main.
    expect((await check(p.root)).base).toBe('origin/main');
  });

  it('a project in a subfolder of the repository: files relative to the project, the project path for GitHub', async () => {
    const { projectDir, migration } = nestedRepoProject();
    const id = migration('20260102000000_users_email_idx', [UNSAFE_INDEX]);
    const report = await check(projectDir);
    expect(report.projectPath).toBe('db/');
    expect(report.changed).toEqual([id]);
    expect(report.findings).toContainEqual(expect.objectContaining({ file: `migrations/${id}/add-index.up.sql`, line: 2 }));
  });

  it('outside a git work tree it is a usage error that says so', async () => {
    const p = projectWithoutDatabase();
    const err = await refusal(check(p.root));
    expect(err.code).toBe('E_USAGE');
    expect(err.message).toContain('not in a git work tree');
  });
});

describe('prCheck on a scratch database [server]', () => {
  it('a migration whose SQL fails on the scratch database is a rehearsal finding at its file and line', async () => {
    const target = await emptyServerTarget();
    if (!target) return console.warn('[ferry tests] skipped: no PostgreSQL server (outside CI only)');
    const p = repoProject(target);
    const id = p.migration('20260102000000_account_note', [
      { id: 'add-note', up: 'CREATE TABLE notes (id bigint);\nALTER TABLE accounts ADD COLUMN note text;\n', down: 'DROP TABLE notes;\n' },
    ]);
    p.commit('note');
    const report = await check(p.root, { env: 'test' });
    expect(report.database?.env).toBe('test');
    // The base branch's migration is applied first, so the branch's migrations meet the schema main leaves.
    expect(report.applied).toEqual([USERS]);
    expect(report.rehearsals).toEqual([expect.objectContaining({ migrationId: id, ok: false })]);
    const rehearsal = report.findings.filter((f) => f.rule === 'rehearsal');
    expect(rehearsal).toEqual([expect.objectContaining({ migrationId: id, file: `migrations/${id}/add-note.up.sql`, line: 2, level: 'error' })]);
    expect(rehearsal[0]?.message).toContain('relation "accounts" does not exist');
    expect(report.ok).toBe(false);
    expect(prCheckRefusal(report)?.code).toBe('E_REHEARSE');
  });

  it('rehearses each pending changed migration on top of the ones before it, and lints against the live catalog', async () => {
    const target = await emptyServerTarget();
    if (!target) return console.warn('[ferry tests] skipped: no PostgreSQL server (outside CI only)');
    const p = repoProject(target);
    const orders = p.migration('20260102000000_orders', [SAFE_TABLE]);
    const note = p.migration('20260103000000_order_note', [
      { id: 'add-note', up: 'ALTER TABLE orders ADD COLUMN note text;\n', down: 'ALTER TABLE orders DROP COLUMN note;\n' },
    ]);
    const unsafe = p.migration('20260104000000_users_email_idx', [UNSAFE_INDEX]);
    p.commit('three');
    const report = await check(p.root, { env: 'test' });
    expect(report.rehearsals.map((r) => [r.migrationId, r.ok])).toEqual([
      [orders, true],
      [note, true],
    ]);
    expect(report.applied).toEqual([USERS, orders, note]);
    expect(report.notRehearsed).toEqual([{ migrationId: unsafe, reason: expect.stringContaining('error lint findings') }]);
    const finding = report.findings.find((f) => f.rule === 'index-not-concurrent');
    expect(finding).toMatchObject({ migrationId: unsafe, line: 2 });
    // Judged against the scratch database's catalog: it names the table as the catalog has it.
    expect(finding?.message).toContain('public.users');
    expect(prCheckRefusal(report)?.code).toBe('E_LINT');
  });
});
