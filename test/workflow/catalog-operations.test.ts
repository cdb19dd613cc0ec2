import { mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { lintMigration } from '../../src/lint/index.js';
import { loadAll, type Migration } from '../../src/migration/loader.js';
import { completeRollout, setRollout } from '../../src/rollout/stages.js';
import { up } from '../../src/workflow/apply.js';
import { contract } from '../../src/workflow/contract.js';
import { currentPhase, transition } from '../../src/workflow/lifecycle.js';
import { down } from '../../src/workflow/rollback.js';
import { verifyMigrations } from '../../src/workflow/verify.js';
import { forEachDriver } from '../helpers/databases.js';
import { observable, testRun } from '../helpers/engine.js';
import { createProject, type TestProject } from '../helpers/project.js';
import { refusalCode } from '../helpers/refusal.js';

const OPS = '0002_events_catalog';
const ENUM = '0003_mood_meh';

/** Write a migration made of operation steps only. */
function opMigration(p: TestProject, id: string, steps: Record<string, unknown>[]): void {
  const dir = join(p.root, 'migrations', id);
  mkdirSync(dir);
  const manifest = { title: id, summary: `operations of ${id}`, type: 'schema-destructive', strategy: 'incremental', flag: id.replaceAll('_', '-'), steps };
  writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest, null, 2));
}

/**
 * Tables with a CHECK, a foreign key and an index but no primary key; then one
 * migration composing the catalog operations on one table (the index it adds a
 * key with becomes the replica identity), with two types and a dropped table;
 * then an enum value, which cannot be taken back.
 */
function project(p: TestProject): void {
  p.migration('0001_events', [
    {
      id: 'create',
      up: `CREATE TABLE accounts (id bigint PRIMARY KEY);
           INSERT INTO accounts SELECT g FROM generate_series(1, 50) g;
           CREATE TABLE events (id bigint NOT NULL, account_id bigint, kind text NOT NULL,
             CONSTRAINT events_kind_check CHECK (kind <> ''),
             CONSTRAINT events_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id));
           CREATE INDEX events_kind_idx ON events (kind);
           INSERT INTO events SELECT g, 1 + g % 50, 'k' || g FROM generate_series(1, 500) g;
           CREATE TABLE legacy_log (id int PRIMARY KEY, line text);
           INSERT INTO legacy_log SELECT g, 'line ' || g FROM generate_series(1, 20) g;`,
      down: 'DROP TABLE legacy_log, events, accounts;',
    },
  ]);
  opMigration(p, OPS, [
    { id: 'key', kind: 'op', op: 'add-primary-key', table: 'events', name: 'events_pkey', columns: ['id'] },
    { id: 'tidy', kind: 'op', op: 'rename-constraint', table: 'events', from: 'events_kind_check', to: 'events_kind_nonempty' },
    { id: 'loosen', kind: 'op', op: 'drop-constraint', table: 'events', name: 'events_account_fk' },
    { id: 'cdc', kind: 'op', op: 'set-replica-identity', table: 'events', identity: { index: 'events_pkey' } },
    { id: 'unused', kind: 'op', op: 'drop-index', table: 'events', name: 'events_kind_idx' },
    { id: 'mood', kind: 'op', op: 'create-enum', name: 'mood', values: ['happy', 'sad'] },
    {
      id: 'address',
      kind: 'op',
      op: 'create-type',
      name: 'address',
      attributes: [
        { name: 'street', type: 'text' },
        { name: 'city', type: 'text' },
      ],
    },
    { id: 'retire-log', kind: 'op', op: 'drop-table', table: 'legacy_log' },
  ]);
  opMigration(p, ENUM, [{ id: 'meh', kind: 'op', op: 'add-enum-value', type: 'mood', value: 'meh', after: 'happy' }]);
}

const only = (ms: Migration[], ...ids: string[]) => ms.filter((m) => ids.includes(m.id));
const byId = (ms: Migration[], id: string) => ms.find((m) => m.id === id) as Migration;

async function catalogFacts(db: Database) {
  const { rows } = await db.query(
    `SELECT (SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint WHERE conrelid = 'events'::regclass AND contype IN ('c', 'f', 'p', 'u')) AS constraints,
            (SELECT array_agg(relname::text ORDER BY relname) FROM pg_index JOIN pg_class ON oid = indexrelid WHERE indrelid = 'events'::regclass) AS indexes,
            (SELECT relreplident::text FROM pg_class WHERE oid = 'events'::regclass) AS identity,
            to_regclass('legacy_log') IS NOT NULL AS log_name,
            (SELECT count(*)::int FROM pg_class WHERE relname LIKE '%ferry_dropped%legacy_log%' AND relkind = 'r') AS hidden_logs`,
  );
  return rows[0];
}

forEachDriver('catalog operations in one migration', (suite) => {
  it('compose on one table: lint finds nothing left to acknowledge; up, down and up again; contract removes what they retire', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    project(p);
    const ms = await loadAll(join(p.root, 'migrations'));
    const ops = byId(ms, OPS);
    expect(ops.steps.filter((s) => s.phase === 'contract').map((s) => s.id)).toEqual(['unused.drop-index', 'retire-log.drop-table']);
    for (const m of [ops, byId(ms, ENUM)]) {
      const errors = lintMigration(m).findings.filter((f) => f.severity === 'error' && f.status === 'active');
      expect(errors, m.id).toEqual([]);
    }
    const db = await target.open();
    try {
      await up(db, only(ms, '0001_events'), testRun);
      const before = await observable(db);
      await up(db, only(ms, '0001_events', OPS), testRun);
      expect(await catalogFacts(db)).toEqual({
        constraints: ['events_kind_nonempty', 'events_pkey'],
        indexes: ['events_kind_idx', 'events_pkey'],
        identity: 'i',
        log_name: true,
        hidden_logs: 1,
      });
      // Old applications still read and write the retired table by its name until contract.
      await db.exec(`INSERT INTO legacy_log VALUES (21, 'written during expand')`);

      await down(db, only(ms, '0001_events', OPS), OPS, testRun);
      await db.exec('DELETE FROM legacy_log WHERE id = 21');
      expect(await observable(db)).toEqual(before);

      await up(db, only(ms, '0001_events', OPS), testRun);
      await db.transaction(async (tx) => {
        const t = { id: OPS, flag: OPS.replaceAll('_', '-'), stages: [{ percent: 100, holdMs: 0 }], hasBackfill: false };
        await setRollout(tx, t, 100, { actor: 'test', life: { currentPhase, transition } });
        await completeRollout(tx, t, { actor: 'test', life: { currentPhase, transition } });
      });
      const [verified] = await verifyMigrations(db, [ops], { actor: 'test', record: true });
      expect(verified).toMatchObject({ ok: true, complete: true, verified: true, phase: 'verified' });
      const done = await contract(db, ops, { ...testRun, backup: { dir: join(tmpdir(), `ferry-backups-${OPS}-${suite.kind}`) } });
      expect(done.steps.map((s) => s.stepId)).toEqual(['unused.drop-index', 'retire-log.drop-table']);
      expect(await catalogFacts(db)).toEqual({
        constraints: ['events_kind_nonempty', 'events_pkey'],
        indexes: ['events_pkey'],
        identity: 'i',
        log_name: false,
        hidden_logs: 0,
      });
      expect(await refusalCode(down(db, only(ms, '0001_events', OPS), OPS, testRun))).toBe('E_POINT_OF_NO_RETURN');
    } finally {
      await db.close();
    }
  });

  it('an added enum value is a point of no return: down refuses it and changes nothing', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    project(p);
    const ms = await loadAll(join(p.root, 'migrations'));
    const db = await target.open();
    try {
      await up(db, ms, testRun);
      const { rows } = await db.query(`SELECT array_agg(enumlabel::text ORDER BY enumsortorder) AS labels FROM pg_enum WHERE enumtypid = 'mood'::regtype`);
      expect(rows).toEqual([{ labels: ['happy', 'meh', 'sad'] }]);
      const after = await observable(db, true);
      expect(await refusalCode(down(db, ms, ENUM, testRun))).toBe('E_POINT_OF_NO_RETURN');
      expect(await observable(db, true)).toEqual(after);
    } finally {
      await db.close();
    }
  });
});
