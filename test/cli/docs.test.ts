import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openPglite } from '../../src/db/pglite.js';
import { createTicket, listTickets } from '../../src/project/tickets.js';
import { SPLIT, splitManifest, splitProject } from '../docs/fixtures.js';
import { forEachDriver } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const eventsOf = async (p: TestProject, id: string) => (await runFerryJson<{ events: unknown[] }>(p.root, ['log', id])).json.events.length;

async function ok(p: TestProject, args: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

async function refused(p: TestProject, args: string[], code: number, message: string): Promise<void> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
  expect(r.stderr).toContain(message);
}

function editSummary(p: TestProject, summary: string): void {
  const file = p.file(SPLIT, 'migration.json');
  writeFileSync(file, JSON.stringify({ ...JSON.parse(readFileSync(file, 'utf8')), summary }, null, 2));
}

forEachDriver('documents and gates through the CLI', (suite) => {
  it('a migration goes through the whole lifecycle: approvals gate it, documents carry its numbers, cleanup archives it', async () => {
    const target = await suite.fresh();
    const env = target.kind === 'server' ? { url: target.url, requireApproval: true } : { dataDir: target.dataDir, requireApproval: true };
    const p = createProject(target, { environments: { test: env } });
    splitProject(p);
    writeFileSync(
      p.file('0001_users', 'migration.json'),
      JSON.stringify({ ...JSON.parse(readFileSync(p.file('0001_users', 'migration.json'), 'utf8')), plan: { approvals: ['Tech Lead'] } }),
    );
    for (const phase of ['plan', 'preparation', 'rollout', 'cleanup'] as const)
      createTicket(p.root, { title: `${phase} ticket`, type: 'task', migration: SPLIT, phase });

    // Approvals gate up: nothing runs before every role approved.
    await refused(p, ['up'], 9, 'requires approval');
    await ok(p, ['approve', '0001_users', '--as', 'Tech Lead']);
    await ok(p, ['up', '0001_users']);
    await ok(p, ['approve', SPLIT, '--as', 'tech lead', '--by', 'Ada']);
    expect(listTickets(p.root).filter((t) => t.status === 'closed')).toEqual([]);
    await refused(p, ['up', SPLIT], 9, 'not approved');
    await refused(p, ['approve', SPLIT, '--as', 'Janitor'], 2, '"Janitor" is not an approving role');
    const approved = await runFerryJson<{ moved: boolean; phase: string }>(p.root, ['approve', SPLIT, '--as', 'Product Owner', '--by', 'Grace']);
    expect(approved.json).toMatchObject({ moved: true, phase: 'approved' });
    expect(listTickets(p.root).find((t) => t.phase === 'plan')?.status).toBe('closed');

    // An edit voids the approvals: up is refused until every role approves again.
    editSummary(p, 'edited after approval');
    await refused(p, ['up', SPLIT], 9, 'was changed after it was approved');
    await ok(p, ['approve', SPLIT, '--as', 'Tech Lead', '--by', 'Ada']);
    await refused(p, ['up', SPLIT], 9, 'Product Owner');
    await ok(p, ['approve', SPLIT, '--as', 'Product Owner', '--by', 'Grace']);
    await ok(p, ['up', SPLIT]);
    await ok(p, ['rehearse', SPLIT]);
    await ok(p, ['rollout', SPLIT, 'set', '50']);
    expect(listTickets(p.root).find((t) => t.phase === 'preparation')?.status).toBe('closed');

    // … and the rollout stops too; the edit of an applied migration is drift until acknowledged.
    editSummary(p, 'edited during the rollout');
    await refused(p, ['rollout', SPLIT, 'advance', '--now', '--reason', 'go'], 9, 'approvals no longer hold');
    await refused(p, ['status'], 8, '1 drift problem(s) found');
    await ok(p, ['acknowledge', SPLIT, '--reason', 'summary reworded']);
    await ok(p, ['approve', SPLIT, '--as', 'Tech Lead', '--by', 'Ada']);
    await ok(p, ['approve', SPLIT, '--as', 'Product Owner', '--by', 'Grace']);
    await ok(p, ['rollout', SPLIT, 'advance', '--now', '--reason', 'green']);
    // The 100 % stage's 1 s hold is judged before the migration is rolled out.
    while ((await runFerryJson<{ remainingMs: number }>(p.root, ['rollout', SPLIT, 'status'])).json.remainingMs > 0)
      await new Promise((r) => setTimeout(r, 200));
    await ok(p, ['rollout', SPLIT, 'advance']);

    await refused(p, ['cleanup', SPLIT, '--force', '--reason', 'early'], 9, 'needs a verified migration');
    await ok(p, ['verify', SPLIT, '--full']);
    expect(listTickets(p.root).find((t) => t.phase === 'rollout')?.status).toBe('closed');

    const plan = await ok(p, ['plan', SPLIT]);
    expect(plan).toContain('# Migration plan: split full_name');
    // `users` (the backfill) and `public.users` (the statements) are one table, counted once.
    expect(plan).toMatch(/\| `public\.users` \| 500 \| \d+(\.\d)? kB \|/);
    expect(plan.match(/\| 500 \|/g)).toHaveLength(1);
    expect(plan).toContain('| Tech Lead | Ada |');
    expect(plan).toContain('| Product Owner | Grace |');
    expect(plan).toMatch(/\| rollout \| 2\.0s \| \d{4}-\d\d-\d\d \d\d:\d\d UTC \| \d{4}-/);
    expect(plan).toContain('AccessExclusiveLock');

    const rollback = await ok(p, ['rollback-plan', SPLIT]);
    expect(rollback).toContain('ferry flag set split-names false');
    expect(rollback).toContain(`ferry down ${SPLIT}`);
    expect(rollback).toContain('split-name.add-columns');
    expect(rollback).toContain('split-name.drop-old-column');
    expect(rollback).toMatch(/\*\*passed\*\* on \d{4}-\d\d-\d\d/);
    expect(rollback).toContain('> 1 %');
    expect(rollback).toContain(`ferry backup ${SPLIT}`);

    const report = await ok(p, ['report', SPLIT]);
    expect(report).toMatch(/\| split-name\.backfill \| done \| 500 \|/);
    expect(report).toContain('| names-match | checksum | full | pass | 0 |');
    expect(report).toContain('| 50 % |');
    expect(report).toContain('- [x] verified');
    expect(report).toContain('- [x] rolled out to 100 %');
    expect(report).toContain('- [x] names split for every user');
    expect(report).toContain('- [ ] support is quiet');
    expect(report).toContain('0 rollback(s)');

    // Cleanup: refused before the deprecation period, then forced with a reason.
    const before = await eventsOf(p, SPLIT);
    await refused(p, ['cleanup', SPLIT], 9, 'deprecation period of 30d has not passed');
    await refused(p, ['cleanup', SPLIT, '--force'], 2, 'needs --reason');
    expect(await eventsOf(p, SPLIT)).toBe(before);
    const cleaned = await runFerryJson<{
      backup: { objects: { table: string; rows: number }[] };
      flagTombstone: string;
      archivedTo: string;
      transitions: { to: string }[];
    }>(p.root, ['cleanup', SPLIT, '--force', '--reason', 'test: no old client left']);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    expect(cleaned.json.backup.objects).toEqual([expect.objectContaining({ table: 'public.users', rows: 500 })]);
    expect(cleaned.json.flagTombstone).toBe('split-names');
    expect(cleaned.json.transitions.map((t) => t.to)).toEqual(['contracted', 'archived']);
    expect(cleaned.json.archivedTo).toMatch(new RegExp(`migrations/archive/\\d{6}/${SPLIT}$`));
    expect(existsSync(join(p.root, 'migrations', SPLIT))).toBe(false);
    expect(listTickets(p.root).every((t) => t.status === 'closed')).toBe(true);

    // Archived: not pending, not drift, and its documents still render.
    const status = await runFerryJson<{ migrations: { id: string }[]; drift: unknown[] }>(p.root, ['status']);
    expect(status.code).toBe(0);
    expect(status.json.drift).toEqual([]);
    expect(status.json.migrations.map((m) => m.id)).toEqual(['0001_users']);
    expect((await runFerryJson<{ steps: unknown[] }>(p.root, ['up'])).json.steps).toEqual([]);
    const retro = await ok(p, ['retro', SPLIT]);
    expect(retro).toContain('## 1. What went well?');
    expect(retro).toContain('## 5. What should change in the tools or the process?');
    expect(retro).toContain('500 row(s) in 1 step(s)');
    expect(retro).toContain('Rollbacks during the rollout: 0');
    const after = await ok(p, ['report', SPLIT]);
    expect(after).toContain('- [x] verified');
    expect(after).toContain('cleanup-forced');
  }, 900_000);
});

describe('bad input to the document, ticket and cleanup commands', () => {
  it('gets a clear error and an exit code, and changes nothing', async () => {
    const p = createProject({ kind: 'pglite', dataDir: '/nonexistent/never-created', open: async () => Promise.reject(new Error('unused')) });
    const m = splitManifest();
    p.migration('0001_plain', [{ id: 'one', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;' }]);
    expect(m.title).toBe('split full_name');
    await refused(p, ['plan', 'nope'], 5, 'no migration with id "nope"');
    await refused(p, ['report', 'nope'], 5, 'no migration with id "nope"');
    await refused(p, ['approve', '0001_plain'], 2, "required option '--as <role>'");
    await refused(p, ['approve', '0001_plain', '--as', 'Janitor'], 2, 'is not an approving role');
    await refused(p, ['backup', '0001_plain'], 9, 'nothing to back up');
    await refused(p, ['cleanup', '0001_plain', '--reason', 'x'], 2, '--reason only applies with --force');
    await refused(p, ['ticket', 'close', 'abc'], 2, 'a ticket number must be a whole number');
    await refused(p, ['ticket', 'close', '7'], 5, 'no ticket 7');
    await refused(p, ['ticket', 'create', ' '], 2, 'a ticket needs a title');
    await refused(p, ['ticket', 'create', 'x', '--type', 'epic'], 2, "argument 'epic' is invalid");
    expect(existsSync('/nonexistent/never-created')).toBe(false);
    expect(existsSync(join(p.root, 'tickets')) ? readdirSync(join(p.root, 'tickets')) : []).toEqual([]);
    for (const cmd of [
      'plan',
      'rollback-plan',
      'report',
      'retro',
      'backup',
      'restore',
      'cleanup',
      'ticket',
      'ticket create',
      'ticket list',
      'ticket close',
      'approve',
    ]) {
      const r = await runFerry('/', [...cmd.split(' '), '--help']);
      expect(r.code, cmd).toBe(0);
      expect(r.stdout, cmd).toContain('Example');
    }
  });
});

describe('the plan shows the linter', () => {
  it('names the inferred type and risk, and warns when the manifest declares another type', async () => {
    // A fresh embedded database is all `ferry plan` needs: the document reads the files and the (empty) state.
    const dataDir = join(mkdtempSync(join(tmpdir(), 'ferry-plan-')), 'db');
    const target = { kind: 'pglite' as const, dataDir, open: () => openPglite({ dataDir }) };
    const p = createProject(target);
    const id = p.migration(
      '0001_drop_legacy',
      [{ id: 'drop', up: 'ALTER TABLE accounts DROP COLUMN legacy_code;', down: 'ALTER TABLE accounts ADD COLUMN legacy_code text;' }],
      { type: 'schema-additive', lint: { acknowledge: ['drop:drop-column'] } },
    );
    const out = await ok(p, ['plan', id]);
    expect(out).toContain('inferred schema-destructive');
    expect(out).toContain('the manifest declares schema-additive, but the statements look like schema-destructive');
  });
});
