import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { loadAll } from '../../src/migration/loader.js';
import { completeRollout, setRollout } from '../../src/rollout/stages.js';
import { readState } from '../../src/state/store.js';
import { up } from '../../src/workflow/apply.js';
import { contract } from '../../src/workflow/contract.js';
import { currentPhase, transition } from '../../src/workflow/lifecycle.js';
import { down } from '../../src/workflow/rollback.js';
import { migrationStatus } from '../../src/workflow/status.js';
import { verifyMigrations } from '../../src/workflow/verify.js';
import { forEachDriver } from '../helpers/databases.js';
import { observable, testRun } from '../helpers/engine.js';
import { createProject, type TestProject } from '../helpers/project.js';
import { refusalCode } from '../helpers/refusal.js';

const SPLIT = '0002_split_full_name';

/** users(id, full_name) with 2,000 rows, then a migration that splits full_name with operations only. */
function operationsProject(p: TestProject): void {
  p.migration('0001_users', [
    {
      id: 'create-users',
      up: `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text NOT NULL);
           INSERT INTO users (full_name) SELECT 'Person ' || g FROM generate_series(1, 1999) g;
           INSERT INTO users (full_name) VALUES ('Zoë Brontë');`,
      down: 'DROP TABLE users;',
    },
  ]);
  const dir = join(p.root, 'migrations', SPLIT);
  mkdirSync(dir);
  const manifest = {
    title: 'split full_name',
    summary: 'first_name and last_name beside full_name while old and new versions run; full_name goes at contract',
    type: 'data-format',
    strategy: 'incremental',
    flag: 'split-names',
    steps: [
      {
        id: 'split-name',
        kind: 'op',
        op: 'split-column',
        table: 'users',
        column: 'full_name',
        into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
        merge: "first_name || ' ' || last_name",
      },
      { id: 'last-name-index', kind: 'op', op: 'add-index', table: 'users', name: 'users_last_name', columns: ['last_name'] },
    ],
  };
  writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest, null, 2));
}

const columnsOf = async (db: Database) =>
  (
    await db.query<{ c: string }>(
      `SELECT column_name AS c FROM information_schema.columns WHERE table_schema = 'public' AND table_name = 'users' ORDER BY ordinal_position`,
    )
  ).rows.map((r) => r.c);

const phaseOf = async (db: Database, id: string) => (await readState(db)).migrations.get(id)?.phase;

forEachDriver('operations in a migration', (suite) => {
  it('up expands and backfills, contract waits for verified, then removes the old shape for good', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    operationsProject(p);
    const ms = await loadAll(join(p.root, 'migrations'));
    const split = ms.find((m) => m.id === SPLIT);
    expect(split?.steps.map((s) => `${s.id}${s.phase === 'contract' ? ' (contract)' : ''}`)).toEqual([
      'split-name.add-columns',
      'split-name.sync-trigger',
      'split-name.backfill',
      'split-name.compat-views',
      'last-name-index.build-index',
      'split-name.drop-old-column (contract)',
    ]);
    const db = await target.open();
    try {
      const report = await up(db, ms, testRun);
      expect(report.steps.map((s) => s.stepId)).not.toContain('split-name.drop-old-column');
      expect(await phaseOf(db, SPLIT)).toBe('backfilled');
      expect(await columnsOf(db)).toEqual(['id', 'full_name', 'first_name', 'last_name']);
      const { rows } = await db.query('SELECT first_name, last_name FROM users WHERE full_name = $1', ['Zoë Brontë']);
      expect(rows).toEqual([{ first_name: 'Zoë', last_name: 'Brontë' }]);
      // An old version writes full_name only; the new shape sees it, through the table and through its view.
      await db.query(`INSERT INTO users (full_name) VALUES ('Ada Lovelace')`);
      const v2 = await db.query(`SELECT first_name, last_name FROM ferry_v2_users.users WHERE first_name = 'Ada'`);
      expect(v2.rows).toEqual([{ first_name: 'Ada', last_name: 'Lovelace' }]);
      const status = (await migrationStatus(db, ms)).migrations.find((m) => m.id === SPLIT);
      expect(status).toMatchObject({ pendingCount: 0, contractPendingCount: 1 });
      const [verified] = await verifyMigrations(db, [split as NonNullable<typeof split>], { actor: 'test', record: true });
      expect(verified).toMatchObject({ ok: true, complete: true });
      expect(verified?.verified).toBeUndefined();

      expect(await refusalCode(contract(db, split as NonNullable<typeof split>, testRun))).toBe('E_GATE');
      await db.transaction(async (tx) => {
        const t = { id: SPLIT, flag: 'split-names', stages: [{ percent: 100, holdMs: 0 }], hasBackfill: true };
        await setRollout(tx, t, 100, { actor: 'test', life: { currentPhase, transition } });
        await completeRollout(tx, t, { actor: 'test', life: { currentPhase, transition } });
      });
      expect(await phaseOf(db, SPLIT)).toBe('rolled-out');
      const [again] = await verifyMigrations(db, [split as NonNullable<typeof split>], { actor: 'test', record: true });
      expect(again).toMatchObject({ ok: true, complete: true, verified: true, phase: 'verified' });

      const dry = await contract(db, split as NonNullable<typeof split>, { ...testRun, dryRun: true });
      expect(dry.steps.map((s) => s.stepId)).toEqual(['split-name.drop-old-column']);
      expect(await columnsOf(db)).toEqual(['id', 'full_name', 'first_name', 'last_name']);

      const done = await contract(db, split as NonNullable<typeof split>, { ...testRun, backup: { dir: join(tmpdir(), `ferry-backups-${SPLIT}`) } });
      expect(done.transitions).toEqual([{ migrationId: SPLIT, from: 'verified', to: 'contracted' }]);
      expect(await columnsOf(db)).toEqual(['id', 'first_name', 'last_name']);
      const leftovers = await db.query<{ n: number }>(
        `SELECT (SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'ferry_v%')::int + (SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'ferry%')::int AS n`,
      );
      expect(leftovers.rows[0]?.n).toBe(0);
      expect(await refusalCode(down(db, ms, SPLIT, testRun))).toBe('E_POINT_OF_NO_RETURN');
      expect((await contract(db, split as NonNullable<typeof split>, testRun)).steps).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('down after up restores the schema and the data exactly', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    operationsProject(p);
    const ms = await loadAll(join(p.root, 'migrations'));
    const db = await target.open();
    try {
      await up(
        db,
        ms.filter((m) => m.id !== SPLIT),
        testRun,
      );
      const before = await observable(db);
      await up(db, ms, testRun);
      const rolled = await down(db, ms, SPLIT, testRun);
      expect(rolled.steps.map((s) => s.stepId)).toEqual([
        'last-name-index.build-index',
        'split-name.compat-views',
        'split-name.backfill',
        'split-name.sync-trigger',
        'split-name.add-columns',
      ]);
      expect(await observable(db)).toEqual(before);
    } finally {
      await db.close();
    }
  });
});
