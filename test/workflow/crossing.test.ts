import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { createFlags } from '../../src/sdk/index.js';
import { SPLIT, verifiedSplit } from '../docs/fixtures.js';
import { forEachDriver, withDb } from '../helpers/databases.js';
import { runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

async function ok(p: TestProject, args: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

async function refused(p: TestProject, args: string[], code: number, ...messages: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(code);
  for (const m of messages) expect(r.stderr).toContain(m);
  return r.stderr;
}

const columnsOf = (db: Database) =>
  db
    .query<{ c: string }>(`SELECT column_name AS c FROM information_schema.columns WHERE table_name = 'users' ORDER BY ordinal_position`)
    .then((r) => r.rows.map((x) => x.c));
const count = async (db: Database, sql: string) => Number((await db.query<{ n: string }>(sql)).rows[0]?.n);
/** What contract and cleanup may change: the columns, the backups, the events, the flag. */
const fingerprint = async (db: Database) => ({
  columns: await columnsOf(db),
  backups: await count(db, 'SELECT count(*)::text AS n FROM ferry.backups'),
  events: await count(db, 'SELECT count(*)::text AS n FROM ferry.events'),
  flag: (await db.query('SELECT enabled, percentage::text AS p, graduated_at FROM ferry.flags')).rows,
});

/** Write the rows' first names past the sync trigger: a bug in the backfill, as the checks should catch it. */
async function setFirstNames(db: Database, sql: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.query('SET LOCAL session_replication_role = replica');
    await tx.exec(sql);
  });
}

forEachDriver('crossing the point of no return', (suite) => {
  it('3 corrupted rows: verify --full moves it back to rolled-out; contract and cleanup --force are refused and change nothing; once fixed, contract backs up and graduates the flag', async () => {
    const target = await suite.fresh();
    const p = await verifiedSplit(target);
    await withDb(target, (db) => setFirstNames(db, `UPDATE users SET first_name = 'Broken' WHERE id IN (7, 70, 300)`));

    const failed = await runFerry(p.root, ['verify', SPLIT, '--full']);
    expect(failed.code, failed.stderr).toBe(12);
    expect(failed.stdout).toContain('verified → rolled-out');
    const status = await runFerryJson<{ migrations: { id: string; phase: string }[] }>(p.root, ['status']);
    expect(status.json.migrations.find((m) => m.id === SPLIT)?.phase).toBe('rolled-out');
    const log = await runFerryJson<{ events: { kind: string; reason: string }[] }>(p.root, ['log', SPLIT]);
    expect(log.json.events.some((e) => e.kind === 'verify' && e.reason.includes('verify failed: check names-match'))).toBe(true);

    const before = await withDb(target, fingerprint);
    expect(before.columns).toContain('full_name');
    const contract = await refused(p, ['contract', SPLIT], 9, 'it is rolled-out', 'check names-match failed its latest run', '3 data errors');
    expect(contract).toContain(`ferry verify ${SPLIT} --full`);
    await refused(p, ['cleanup', SPLIT, '--force', '--reason', 'x'], 9, 'it is rolled-out', '3 data errors');
    expect(await withDb(target, fingerprint)).toEqual(before);

    // Fixed: verify moves it to verified again, and contract crosses, with a backup and the flag graduated.
    await withDb(target, (db) => setFirstNames(db, `UPDATE users SET first_name = split_part(full_name, ' ', 1) WHERE id IN (7, 70, 300)`));
    expect(await ok(p, ['verify', SPLIT, '--full'])).toContain('rolled-out → verified');
    const contracted = await ok(p, ['contract', SPLIT]);
    expect(contracted).toMatch(/backup \S+ \((pg_dump|copy)\): public\.users 500 rows/);
    expect(contracted).toContain('flag split-names graduated');
    expect(contracted).toContain('verified → contracted');
    const after = await withDb(target, fingerprint);
    expect(after.columns).not.toContain('full_name');
    expect(after.backups).toBe(1);

    // The flag can no longer send anyone to the dropped column, nor vanish.
    await refused(p, ['flag', 'set', 'split-names', 'false'], 10, 'graduated', 'dropped column');
    await refused(p, ['flag', 'set', 'split-names', '50'], 10, 'graduated');
    await refused(p, ['flag', 'remove', 'split-names'], 10, 'graduated');
    const flag = await runFerryJson<{ enabled: boolean; percentage: number; graduatedAt: string | null; tombstone: boolean }>(p.root, [
      'flag',
      'get',
      'split-names',
    ]);
    expect(flag.json).toMatchObject({ enabled: true, percentage: 100, tombstone: false, graduatedAt: expect.any(String) });

    // Cleanup after contract takes no second backup, and keeps the flag as a tombstone.
    const cleaned = await runFerryJson<{ backup: { id: string; reused: boolean }; flagTombstone: string; transitions: { to: string }[] }>(p.root, [
      'cleanup',
      SPLIT,
      '--force',
      '--reason',
      'test',
    ]);
    expect(cleaned.code, cleaned.stderr).toBe(0);
    expect(cleaned.json.backup.reused).toBe(true);
    expect(cleaned.json.flagTombstone).toBe('split-names');
    expect(cleaned.json.transitions.map((t) => t.to)).toEqual(['archived']);
    expect(await withDb(target, (db) => count(db, 'SELECT count(*)::text AS n FROM ferry.backups'))).toBe(1);
    const tomb = await runFerryJson<{ enabled: boolean; tombstone: boolean }>(p.root, ['flag', 'get', 'split-names']);
    expect(tomb.json).toMatchObject({ enabled: true, tombstone: true });
  }, 600_000);

  it('health red (SDK metrics in ferry.metrics) blocks contract and cleanup --force; nothing changes', async () => {
    const target = await suite.fresh();
    const p = await verifiedSplit(target);
    // The application's real SDK reports the new path failing half its requests, the old one none.
    await withDb(target, async (db) => {
      const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 50, metrics: { flushIntervalMs: 60_000 } });
      try {
        await flags.ready(30_000);
        for (let i = 0; i < 400; i++) {
          flags.record('split-names', `user-${i}`, { latencyMs: 12, error: i % 2 === 0, cohort: 'new' });
          flags.record('split-names', `user-${i}`, { latencyMs: 12, cohort: 'old' });
        }
        expect(await flags.flush()).toBe(true);
      } finally {
        await flags.close();
      }
    });
    await refused(p, ['health', SPLIT], 17);
    const before = await withDb(target, fingerprint);
    await refused(p, ['contract', SPLIT], 9, 'health is red', 'error rate red', `ferry health ${SPLIT}`, 'Nothing was changed');
    await refused(p, ['cleanup', SPLIT, '--force', '--reason', 'x'], 9, 'health is red');
    expect(await withDb(target, fingerprint)).toEqual(before);
    expect(before.columns).toContain('full_name');
  });

  it('an unresolved quick rollback (flag off after verified) blocks contract; a backup taken since verification is reused', async () => {
    const target = await suite.fresh();
    const p = await verifiedSplit(target);
    await ok(p, ['flag', 'set', 'split-names', 'false']);
    await refused(p, ['contract', SPLIT], 9, 'flag split-names is off', 'ferry flag set split-names true');
    await ok(p, ['flag', 'set', 'split-names', 'true']);
    // A backup taken since verification (as by a contract killed right after its backup) is reused, not taken twice.
    await ok(p, ['backup', SPLIT]);
    const contracted = await ok(p, ['contract', SPLIT]);
    expect(contracted).toContain('since verification');
    expect(contracted).toContain('verified → contracted');
    expect(await withDb(target, (db) => count(db, 'SELECT count(*)::text AS n FROM ferry.backups'))).toBe(1);
  });
});
