import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Compat, createCompat } from '../../src/compat/client.js';
import type { MigrationStage } from '../../src/compat/stages.js';
import type { Database } from '../../src/db/database.js';
import { createFlags, type Flags } from '../../src/sdk/index.js';
import { ensureState } from '../../src/state/store.js';
import { emptyPgliteTarget } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { until } from '../helpers/process.js';

const KEY = 'profile.v2';
let db: Database;
let flags: Flags;
let compat: Compat;
let newUnit: string;
let oldUnit: string;

beforeAll(async () => {
  db = await (await emptyPgliteTarget()).open();
  await ensureState(db);
  await setFlag(db, KEY, true, 50);
  await db.query(`UPDATE ferry.flags SET exclude_units = '{qa}', version = version + 1 WHERE key = $1`, [KEY]);
  flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 20, metrics: { flushIntervalMs: 600_000, bucketMs: 1000 } });
  await flags.ready();
  compat = createCompat(flags, { flushIntervalMs: 600_000 });
  const units = Array.from({ length: 100 }, (_, i) => `user-${i}`);
  newUnit = units.find((u) => flags.cohort(KEY, u) === 'new') as string;
  oldUnit = units.find((u) => flags.cohort(KEY, u) === 'old') as string;
});
afterAll(async () => {
  await compat.close();
  await flags.close();
  await db.close();
});

/** Move the flag's stage (as `ferry rollout <id> stage` does) and wait for the SDK to see it. */
async function setStage(stage: MigrationStage, enabled = true): Promise<void> {
  await db.query('UPDATE ferry.flags SET stage = $2, enabled = $3, version = version + 1 WHERE key = $1', [KEY, stage, enabled]);
  await until(`the SDK to see stage ${stage}`, () => flags.flag(KEY)?.stage === stage && flags.flag(KEY)?.enabled === enabled);
}

/** A migration whose four functions log their calls; `fail` makes one of them throw. */
function recorded(fail: Partial<Record<'writeOld' | 'writeNew', 'sync' | 'async'>> = {}, sample = 0) {
  const calls: string[] = [];
  const fn =
    <T>(name: 'readOld' | 'readNew' | 'writeOld' | 'writeNew', value: T) =>
    (id: number): T | Promise<T> => {
      calls.push(`${name}(${id})`);
      const how = fail[name as 'writeOld'];
      if (how === 'sync') throw new Error(`${name} failed`);
      if (how === 'async') return Promise.reject(new Error(`${name} failed`));
      return value;
    };
  const runner = compat.migration(KEY, {
    readOld: fn('readOld', { name: 'Ada Lovelace' }),
    readNew: fn('readNew', { name: 'Ada Lovelace', v: 2 }),
    writeOld: fn('writeOld', 'old written'),
    writeNew: fn('writeNew', 'new written'),
    sample,
  });
  return { runner, calls };
}

/** Let comparisons start: they begin on a zero timer, and these read functions answer at once. */
const settle = () => new Promise((r) => setTimeout(r, 5));

async function read(r: ReturnType<typeof recorded>, unit: string) {
  r.calls.length = 0;
  const value = await r.runner.read(unit, 7);
  await settle();
  return { value, calls: [...r.calls] };
}

async function write(r: ReturnType<typeof recorded>, unit: string) {
  r.calls.length = 0;
  const value = await r.runner.write(unit, 7);
  return { value, calls: [...r.calls] };
}

const OLD = { name: 'Ada Lovelace' };
const NEW = { name: 'Ada Lovelace', v: 2 };

describe('compat.migration: the six stages row by row', () => {
  it('off: reads old, writes old only', async () => {
    await setStage('off');
    const r = recorded();
    expect(r.runner.stage()).toBe('off');
    for (const u of [newUnit, oldUnit]) expect(await read(r, u)).toEqual({ value: OLD, calls: ['readOld(7)'] });
    expect(await write(r, newUnit)).toEqual({ value: 'old written', calls: ['writeOld(7)'] });
  });

  it('a flag without a stage is off', async () => {
    await db.query('UPDATE ferry.flags SET stage = NULL, version = version + 1 WHERE key = $1', [KEY]);
    await until('the SDK to see no stage', () => flags.flag(KEY)?.stage === null);
    expect(recorded().runner.stage()).toBe('off');
  });

  it('dualwrite: reads old, nothing compared; writes old then new', async () => {
    await setStage('dualwrite');
    const r = recorded({}, 1);
    for (const u of [newUnit, oldUnit]) expect(await read(r, u)).toEqual({ value: OLD, calls: ['readOld(7)'] });
    expect(await write(r, oldUnit)).toEqual({ value: 'old written', calls: ['writeOld(7)', 'writeNew(7)'] });
  });

  it('shadow: returns old, compares new for the new cohort (and a sample of the old); writes old then new', async () => {
    await setStage('shadow');
    const r = recorded();
    expect(await read(r, newUnit)).toEqual({ value: OLD, calls: ['readOld(7)', 'readNew(7)'] });
    expect(await read(r, oldUnit)).toEqual({ value: OLD, calls: ['readOld(7)'] });
    expect(await read(recorded({}, 1), oldUnit)).toEqual({ value: OLD, calls: ['readOld(7)', 'readNew(7)'] });
    expect(await write(r, newUnit)).toEqual({ value: 'old written', calls: ['writeOld(7)', 'writeNew(7)'] });
  });

  it('live: the new cohort reads new and compares old, the old cohort still reads old; writes new then old', async () => {
    await setStage('live');
    const r = recorded();
    expect(await read(r, newUnit)).toEqual({ value: NEW, calls: ['readNew(7)', 'readOld(7)'] });
    expect(await read(r, oldUnit)).toEqual({ value: OLD, calls: ['readOld(7)'] });
    expect(await read(recorded({}, 1), oldUnit)).toEqual({ value: OLD, calls: ['readOld(7)', 'readNew(7)'] });
    expect(await write(r, oldUnit)).toEqual({ value: 'new written', calls: ['writeNew(7)', 'writeOld(7)'] });
  });

  it('rampdown: reads new only; writes new then old', async () => {
    await setStage('rampdown');
    const r = recorded({}, 1);
    for (const u of [newUnit, oldUnit]) expect(await read(r, u)).toEqual({ value: NEW, calls: ['readNew(7)'] });
    expect(await write(r, newUnit)).toEqual({ value: 'new written', calls: ['writeNew(7)', 'writeOld(7)'] });
  });

  it('complete: reads new, writes new only', async () => {
    await setStage('complete');
    const r = recorded({}, 1);
    for (const u of [newUnit, oldUnit]) expect(await read(r, u)).toEqual({ value: NEW, calls: ['readNew(7)'] });
    expect(await write(r, newUnit)).toEqual({ value: 'new written', calls: ['writeNew(7)'] });
  });

  it('the flag switched off (quick rollback): live and rampdown read old for everyone, nothing compared', async () => {
    for (const stage of ['live', 'rampdown'] as const) {
      await setStage(stage, false);
      const r = recorded({}, 1);
      for (const u of [newUnit, oldUnit]) expect(await read(r, u), stage).toEqual({ value: OLD, calls: ['readOld(7)'] });
      // Old is still written in these stages, after the authoritative new side.
      expect(await write(r, newUnit), stage).toEqual({ value: 'new written', calls: ['writeNew(7)', 'writeOld(7)'] });
    }
  });

  it('an excluded unit reads and writes as the old cohort does, never compared', async () => {
    await setStage('live');
    const r = recorded({}, 1);
    expect(await read(r, 'qa')).toEqual({ value: OLD, calls: ['readOld(7)'] });
    expect(await write(r, 'qa')).toEqual({ value: 'new written', calls: ['writeNew(7)', 'writeOld(7)'] });
  });
});

describe('compat.migration: failed writes', () => {
  it('a failed authoritative write skips the other and throws; a failed other write is counted, not thrown', async () => {
    const before = await totals();
    for (const [stage, authoritative, other] of [
      ['dualwrite', 'writeOld', 'writeNew'],
      ['shadow', 'writeOld', 'writeNew'],
      ['live', 'writeNew', 'writeOld'],
      ['rampdown', 'writeNew', 'writeOld'],
    ] as const) {
      await setStage(stage);
      for (const how of ['sync', 'async'] as const) {
        const first = recorded({ [authoritative]: how });
        await expect(first.runner.write(newUnit, 1), `${stage} ${how}`).rejects.toThrow(`${authoritative} failed`);
        expect(first.calls, stage).toEqual([`${authoritative}(1)`]);
        const second = recorded({ [other]: how });
        expect(await second.runner.write(newUnit, 2), `${stage} ${how}`).toBe(authoritative === 'writeOld' ? 'old written' : 'new written');
        expect(second.calls, stage).toEqual([`${authoritative}(2)`, `${other}(2)`]);
      }
    }
    for (const stage of ['off', 'complete'] as const) {
      await setStage(stage);
      const only = stage === 'off' ? 'writeOld' : 'writeNew';
      await expect(recorded({ [only]: 'async' }).runner.write(newUnit, 3)).rejects.toThrow(`${only} failed`);
    }
    expect(await compat.flush()).toBe(true);
    const after = await totals();
    // 4 stages × 2 ways: 8 failed authoritative writes (errors), 8 failed other writes (data errors), 2 failed single writes.
    expect(after.errors - before.errors).toBe(10);
    expect(after.write_failures - before.write_failures).toBe(8);
    expect(after.data_errors - before.data_errors).toBe(8);
    expect(after.requests - before.requests).toBe(4 * 2 * 2 + 2);
  });

  it('compared reads are counted for the unit’s cohort with their outcome', async () => {
    await setStage('shadow');
    const before = await totals();
    const r = recorded();
    await read(r, newUnit); // old vs new differ: a mismatch
    const same = compat.migration(KEY, { readOld: () => 1, readNew: () => 1, writeOld: () => 0, writeNew: () => 0 });
    await same.read(newUnit);
    await until('two comparisons', async () => {
      await compat.flush();
      return (await totals()).comparisons - before.comparisons === 2;
    });
    const after = await totals();
    expect(after.mismatches - before.mismatches).toBe(1);
    expect(after.data_errors - before.data_errors).toBe(1);
    expect(compat.mismatches(KEY).at(-1)).toMatchObject({ unit: newUnit, control: OLD, candidate: NEW });
  });
});

async function totals(): Promise<{ requests: number; errors: number; data_errors: number; write_failures: number; comparisons: number; mismatches: number }> {
  await compat.flush();
  const { rows } = await db.query<{ requests: number; errors: number; data_errors: number; write_failures: number; comparisons: number; mismatches: number }>(
    `SELECT coalesce(sum(requests), 0)::int AS requests, coalesce(sum(errors), 0)::int AS errors, coalesce(sum(data_errors), 0)::int AS data_errors,
            coalesce(sum(write_failures), 0)::int AS write_failures, coalesce(sum(comparisons), 0)::int AS comparisons,
            coalesce(sum(mismatches), 0)::int AS mismatches
       FROM ferry.metrics WHERE flag_key = $1 AND cohort = 'new'`,
    [KEY],
  );
  return rows[0] as never;
}
