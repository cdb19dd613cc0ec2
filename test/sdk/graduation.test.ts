import { StandardResolutionReasons } from '@openfeature/server-sdk';
import { afterAll, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { graduateFlag, readFlag, writeFlag } from '../../src/rollout/flags.js';
import { createFlags, type Flags } from '../../src/sdk/index.js';
import { FerryProvider } from '../../src/sdk/openfeature.js';
import { ensureState } from '../../src/state/store.js';
import { forEachDriver } from '../helpers/databases.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

async function client(db: Database, warnings: string[] = []): Promise<Flags> {
  const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 50, metrics: false, onWarning: (msg) => warnings.push(msg) });
  cleanups.push(() => flags.close());
  expect(await flags.ready(30_000)).toBe(true);
  return flags;
}

const units = Array.from({ length: 500 }, (_, i) => `user-${i}`);

forEachDriver('graduated flags in the SDK', (suite) => {
  it('a graduated tombstone answers true with a default of false, and warns once per flag', async () => {
    const db = await (await suite.fresh()).open();
    cleanups.push(() => db.close());
    await ensureState(db);
    await db.query(`INSERT INTO ferry.migrations (id, phase, title) VALUES ('0001_split', 'archived', 'split')`);
    await db.transaction((tx) => writeFlag(tx, 'split-names', { enabled: true, percentage: 100 }, { migrationId: '0001_split', actor: 'test' }));
    await db.transaction((tx) => graduateFlag(tx, 'split-names', { migrationId: '0001_split', actor: 'test' }));
    await db.transaction((tx) => graduateFlag(tx, 'split-names', { migrationId: '0001_split', actor: 'test', tombstone: true }));
    // A plain graduated flag (not cleaned up yet) is true for everyone too, without a warning.
    await db.transaction((tx) => graduateFlag(tx, 'other', { migrationId: '0001_split', actor: 'test' }));
    expect(await readFlag(db, 'split-names')).toMatchObject({ enabled: true, percentage: 100, tombstone: true, graduatedAt: expect.any(Date) });

    const warnings: string[] = [];
    const flags = await client(db, warnings);
    expect(units.every((u) => flags.isEnabled('split-names', u, false))).toBe(true);
    expect(units.every((u) => flags.isEnabled('other', u, false))).toBe(true);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"split-names" graduated with 0001_split');
    expect(warnings[0]).toContain('can be removed');
    expect(flags.flag('split-names')).toMatchObject({ graduated: true, tombstone: true });

    // OpenFeature answers the same: true, whatever the default.
    const provider = new FerryProvider(flags);
    const r = await provider.resolveBooleanEvaluation('split-names', false, { targetingKey: 'user-1' });
    expect(r).toMatchObject({ value: true, variant: 'new', reason: StandardResolutionReasons.STATIC, flagMetadata: { graduated: true, tombstone: true } });
  });

  it('reads flags from a ferry state older than version 9 (no graduation columns)', async () => {
    const db = await (await suite.fresh()).open();
    cleanups.push(() => db.close());
    await ensureState(db);
    await db.transaction((tx) => writeFlag(tx, 'plain', { enabled: true, percentage: 100 }, { migrationId: null, actor: 'test' }));
    await db.exec('ALTER TABLE ferry.flags DROP COLUMN graduated_at, DROP COLUMN tombstone');
    const flags = await client(db);
    expect(flags.isEnabled('plain', 'user-1', false)).toBe(true);
    expect(flags.flag('plain')).toMatchObject({ graduated: false, tombstone: false });
    expect(await readFlag(db, 'plain')).toMatchObject({ enabled: true, graduatedAt: null, tombstone: false });
  });
});
