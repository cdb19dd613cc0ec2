import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCompat } from '../../src/compat/client.js';
import type { Database } from '../../src/db/database.js';
import { createFlags, type Flags } from '../../src/sdk/index.js';
import { ensureState } from '../../src/state/store.js';
import { emptyPgliteTarget, forEachDriver } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { until } from '../helpers/process.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);
beforeAll(() => {
  process.on('unhandledRejection', onUnhandled);
});
afterAll(() => {
  process.off('unhandledRejection', onUnhandled);
  expect(unhandled).toEqual([]);
});

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** ferry's state on `db`, flag `key` at `percentage` with `exclude` on its exclude list, and a flags client that has read it. */
async function flagsOn(db: Database, key: string, percentage: number, exclude: string[] = []): Promise<Flags> {
  await ensureState(db);
  await setFlag(db, key, true, percentage);
  await db.query('UPDATE ferry.flags SET exclude_units = $2::text[], version = version + 1 WHERE key = $1', [key, exclude]);
  const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 50, metrics: { flushIntervalMs: 600_000, bucketMs: 1000 } });
  cleanups.push(() => flags.close());
  await flags.ready();
  return flags;
}

interface Totals {
  requests: number;
  errors: number;
  data_errors: number;
  comparisons: number;
  mismatches: number;
  candidate_errors: number;
  candidate_timeouts: number;
  write_failures: number;
  with_candidate_latency: number;
}

async function totals(db: Database, key: string, cohort: 'new' | 'old'): Promise<Totals> {
  const { rows } = await db.query<Totals>(
    `SELECT coalesce(sum(requests), 0)::int AS requests, coalesce(sum(errors), 0)::int AS errors, coalesce(sum(data_errors), 0)::int AS data_errors,
            coalesce(sum(comparisons), 0)::int AS comparisons, coalesce(sum(mismatches), 0)::int AS mismatches,
            coalesce(sum(candidate_errors), 0)::int AS candidate_errors, coalesce(sum(candidate_timeouts), 0)::int AS candidate_timeouts,
            coalesce(sum(write_failures), 0)::int AS write_failures, count(candidate_latency)::int AS with_candidate_latency
       FROM ferry.metrics WHERE flag_key = $1 AND cohort = $2`,
    [key, cohort],
  );
  return rows[0] as Totals;
}

/** A promise with its resolve and reject exposed. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('shadow: the caller sees the control, always', () => {
  it('returns the control result and rethrows its exception unchanged, whatever the candidate does', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'reads.v2', 100);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const candidates: Record<string, () => unknown> = {
      'throws synchronously': () => {
        throw new Error('candidate sync');
      },
      rejects: () => Promise.reject(new Error('candidate async')),
      'hangs forever': () => new Promise(() => {}),
      'is slow': () => new Promise((r) => setTimeout(() => r({ other: true }), 30)),
      'differs at once': () => ({ other: true }),
    };
    for (const [what, candidate] of Object.entries(candidates)) {
      const value = { id: 1, what };
      await expect(compat.shadow('reads.v2', 'u1', { control: () => value, candidate: candidate as () => typeof value }), what).resolves.toBe(value);
      const asyncValue = { id: 2, what };
      await expect(compat.shadow('reads.v2', 'u1', { control: async () => asyncValue, candidate: candidate as () => typeof value }), what).resolves.toBe(
        asyncValue,
      );
      const failure = new Error(`control ${what}`);
      await expect(
        compat.shadow('reads.v2', 'u1', {
          control: () => {
            throw failure;
          },
          candidate: candidate as () => typeof value,
        }),
        what,
      ).rejects.toBe(failure);
      await expect(compat.shadow('reads.v2', 'u1', { control: () => Promise.reject(failure), candidate: candidate as () => typeof value }), what).rejects.toBe(
        failure,
      );
    }
    // A control's own promise is handed back as it is.
    const own = Promise.resolve(42);
    expect(compat.shadow('reads.v2', 'u1', { control: () => own, candidate: () => 42 })).toBe(own);
  });

  it('starts the candidate after the control and resolves the caller while the candidate is still running', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'order.v2', 100);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const events: string[] = [];
    const slow = deferred<string>();
    const result = compat
      .shadow('order.v2', 'u1', {
        control: async () => {
          events.push('control started');
          await new Promise((r) => setTimeout(r, 5));
          return 'control';
        },
        candidate: () => {
          events.push('candidate started');
          return slow.promise.then((v) => {
            events.push('candidate done');
            return v;
          });
        },
      })
      .then((v) => {
        events.push('caller resolved');
        return v;
      });
    expect(events).toEqual(['control started']); // not even the candidate's synchronous part ran yet
    expect(await result).toBe('control');
    expect(events).toEqual(['control started', 'candidate started', 'caller resolved']);
    slow.resolve('control');
    await until('the candidate to finish', () => events.includes('candidate done'));

    // A candidate that never settles: the caller resolves, the comparison is counted as a timeout.
    const hanging = await compat.shadow('order.v2', 'u2', { control: () => 'fine', candidate: () => new Promise<string>(() => {}), timeoutMs: 20 });
    expect(hanging).toBe('fine');
    await until('both comparisons to be flushed', async () => {
      await compat.flush();
      return (await totals(db, 'order.v2', 'new')).comparisons === 2;
    });
    expect(await totals(db, 'order.v2', 'new')).toMatchObject({ requests: 2, comparisons: 2, mismatches: 0, candidate_timeouts: 1 });
  });

  it('a throwing compare or ignore is a candidate error, never the caller’s; ignore turns a difference into a match', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'cmp.v2', 100);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const boom = () => {
      throw new Error('compare failed');
    };
    expect(await compat.shadow('cmp.v2', 'a', { control: () => 1, candidate: () => 2, compare: boom })).toBe(1);
    expect(await compat.shadow('cmp.v2', 'b', { control: () => 1, candidate: () => 2, ignore: boom })).toBe(1);
    expect(await compat.shadow('cmp.v2', 'c', { control: () => 1, candidate: () => 2, ignore: (a, b) => b === a + 1 })).toBe(1);
    expect(await compat.shadow('cmp.v2', 'd', { control: () => 1.0, candidate: () => 1, compare: (a, b) => a === b })).toBe(1);
    await until('four comparisons', async () => {
      await compat.flush();
      return (await totals(db, 'cmp.v2', 'new')).comparisons === 4;
    });
    expect(await totals(db, 'cmp.v2', 'new')).toMatchObject({ comparisons: 4, candidate_errors: 2, mismatches: 0, data_errors: 0 });
    expect(compat.mismatches('cmp.v2')).toEqual([]);
  });
});

forEachDriver('shadow and dual write counted per cohort in ferry.metrics', (suite) => {
  it('counts match, mismatch, error and timeout per cohort; mismatches are data errors; excluded units count nothing', async () => {
    const db = await (await suite.fresh()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'users.v2', 50, ['test-account']);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const units = Array.from({ length: 400 }, (_, i) => `u${i}`);
    const byCohort = { new: units.filter((u) => flags.cohort('users.v2', u) === 'new'), old: units.filter((u) => flags.cohort('users.v2', u) === 'old') };
    const plan = { match: 7, mismatch: 3, error: 2, rejected: 2, timeout: 2, controlError: 1 };
    const candidateFor = (kind: string): (() => unknown) => {
      if (kind === 'match') return () => ({ n: 1 });
      if (kind === 'mismatch') return () => ({ n: 2 });
      if (kind === 'error')
        return () => {
          throw new Error('x');
        };
      if (kind === 'rejected') return async () => Promise.reject(new Error('y'));
      if (kind === 'timeout') return () => new Promise(() => {});
      return () => ({ n: 1 });
    };
    for (const cohort of ['new', 'old'] as const) {
      let i = 0;
      for (const [kind, n] of Object.entries(plan)) {
        for (let k = 0; k < n; k++) {
          const unit = byCohort[cohort][i++] as string;
          const call = compat.shadow('users.v2', unit, {
            control:
              kind === 'controlError'
                ? () => {
                    throw new Error('control');
                  }
                : () => ({ n: 1 }),
            candidate: candidateFor(kind) as () => { n: number },
            sample: cohort === 'old' ? 1 : 0,
            timeoutMs: 25,
          });
          await call.catch(() => {});
        }
      }
      // The test account is in neither cohort: it runs the control and is not counted, whatever the outcome.
      expect(await compat.shadow('users.v2', 'test-account', { control: () => 'old path', candidate: () => 'new path', sample: 1 })).toBe('old path');
    }
    const calls = Object.values(plan).reduce((a, b) => a + b, 0);
    const expected = {
      requests: calls,
      errors: plan.controlError,
      data_errors: plan.mismatch,
      // The control's error leaves the candidate's answer with nothing to compare against: no comparison.
      comparisons: calls - plan.controlError,
      mismatches: plan.mismatch,
      candidate_errors: plan.error + plan.rejected,
      candidate_timeouts: plan.timeout,
      write_failures: 0,
    };
    await until('every comparison to be flushed', async () => {
      await compat.flush();
      return (await totals(db, 'users.v2', 'new')).comparisons + (await totals(db, 'users.v2', 'old')).comparisons === 2 * expected.comparisons;
    });
    for (const cohort of ['new', 'old'] as const) {
      const t = await totals(db, 'users.v2', cohort);
      expect(t, cohort).toMatchObject(expected);
      expect(t.with_candidate_latency, cohort).toBeGreaterThan(0);
    }
    const kept = compat.mismatches('users.v2');
    expect(kept).toHaveLength(2 * plan.mismatch);
    expect(kept[0]).toMatchObject({ flag: 'users.v2', cohort: 'new', control: { n: 1 }, candidate: { n: 2 } });
    const { rows } = await db.query<{ cohort: string; control: unknown; candidate: unknown }>(
      `SELECT cohort, control, candidate FROM ferry.shadow_mismatches WHERE flag_key = 'users.v2' ORDER BY id`,
    );
    expect(rows).toHaveLength(2 * plan.mismatch);
    expect(rows[0]).toEqual({ cohort: 'new', control: { n: 1 }, candidate: { n: 2 } });
    expect(rows.filter((r) => r.cohort === 'old')).toHaveLength(plan.mismatch);
  });

  it('dualWrite: the primary’s outcome to the caller; a failed secondary is counted as a failed write and a data error', async () => {
    const db = await (await suite.fresh()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'orders.v2', 100, ['qa']);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const order: string[] = [];
    const w = (name: string, fail?: 'sync' | 'async') => () => {
      order.push(name);
      if (fail === 'sync') throw new Error(name);
      if (fail === 'async') return Promise.reject(new Error(name));
      return `${name} ok`;
    };
    expect(await compat.dualWrite('orders.v2', 'u1', { primary: w('p1'), secondary: w('s1') })).toBe('p1 ok');
    expect(await compat.dualWrite('orders.v2', 'u2', { primary: w('p2'), secondary: w('s2', 'sync') })).toBe('p2 ok');
    expect(await compat.dualWrite('orders.v2', 'u3', { primary: w('p3'), secondary: w('s3', 'async') })).toBe('p3 ok');
    await expect(compat.dualWrite('orders.v2', 'u4', { primary: w('p4', 'sync'), secondary: w('s4') })).rejects.toThrow('p4');
    await expect(compat.dualWrite('orders.v2', 'u5', { primary: w('p5', 'async'), secondary: w('s5') })).rejects.toThrow('p5');
    const late = deferred<void>();
    expect(await compat.dualWrite('orders.v2', 'u6', { primary: w('p6'), secondary: () => late.promise, background: true })).toBe('p6 ok');
    late.reject(new Error('background secondary failed'));
    expect(await compat.dualWrite('orders.v2', 'qa', { primary: w('p7'), secondary: w('s7', 'sync') })).toBe('p7 ok');
    expect(order).toEqual(['p1', 's1', 'p2', 's2', 'p3', 's3', 'p4', 'p5', 'p6', 'p7', 's7']);
    await until('the background write to be counted', async () => {
      await compat.flush();
      return (await totals(db, 'orders.v2', 'new')).requests === 6;
    });
    expect(await totals(db, 'orders.v2', 'new')).toMatchObject({ requests: 6, errors: 2, write_failures: 3, data_errors: 3, comparisons: 0 });
    expect(await totals(db, 'orders.v2', 'old')).toMatchObject({ requests: 0 });
  });
});

describe('shadow: who runs the candidate', () => {
  it('the new cohort always; a sampled share of the old cohort; excluded units never', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'share.v2', 30, ['qa-1', 'qa-2']);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const ran = { new: 0, old: 0, excluded: 0 };
    const calls = { new: 0, old: 0 };
    for (let i = 0; i < 3000; i++) {
      const unit = i % 100 === 0 ? `qa-${1 + ((i / 100) % 2)}` : `user-${i}`;
      const cohort = flags.cohort('share.v2', unit);
      const tag = cohort ?? 'excluded';
      if (cohort) calls[cohort]++;
      await compat.shadow('share.v2', unit, {
        control: () => 1,
        candidate: () => {
          ran[tag]++;
          return 1;
        },
        sample: 0.25,
      });
    }
    await new Promise((r) => setTimeout(r, 5)); // candidates start on a zero timer
    expect(ran.new).toBe(calls.new);
    expect(ran.excluded).toBe(0);
    // 25 % of the old cohort, within 5 standard deviations of a binomial draw.
    const sd = Math.sqrt(calls.old * 0.25 * 0.75);
    expect(Math.abs(ran.old - calls.old * 0.25)).toBeLessThan(5 * sd);
    // No sample: the old cohort never runs the candidate.
    let oldRuns = 0;
    const oldUnit = [...Array(100).keys()].map((i) => `user-${i}`).find((u) => flags.cohort('share.v2', u) === 'old') as string;
    for (let i = 0; i < 50; i++) await compat.shadow('share.v2', oldUnit, { control: () => 1, candidate: () => oldRuns++ });
    await new Promise((r) => setTimeout(r, 5));
    expect(oldRuns).toBe(0);
  });
});

describe('shadow: the mismatch sample', () => {
  it('keeps at most mismatchSamples per flag in memory (newest last) and per flush, and trims the table to 200 per flag', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'big.v2', 100);
    await setFlag(db, 'small.v2', true, 100);
    await until('the second flag', () => flags.flag('small.v2') !== undefined);
    const compat = createCompat(flags, { flushIntervalMs: 600_000, mismatchSamples: 150 });
    cleanups.push(() => compat.close());
    const mismatches = async (key: string, n: number, from = 0) => {
      for (let i = from; i < from + n; i++) await compat.shadow(key, `u${i}`, { control: () => ({ i }), candidate: () => ({ i: i + 0.5 }) });
      await until('the comparisons', () => (compat.mismatches(key).at(-1)?.unit ?? '') === `u${from + n - 1}`);
    };
    await mismatches('big.v2', 170);
    await mismatches('small.v2', 3);
    const kept = compat.mismatches('big.v2');
    expect(kept).toHaveLength(150);
    expect(kept.map((m) => m.unit)).toEqual(Array.from({ length: 150 }, (_, i) => `u${20 + i}`));
    expect(compat.mismatches()).toHaveLength(153);
    expect(await compat.flush()).toBe(true);
    const count = async (key: string) =>
      Number((await db.query<{ n: string }>('SELECT count(*) AS n FROM ferry.shadow_mismatches WHERE flag_key = $1', [key])).rows[0]?.n);
    expect(await count('big.v2')).toBe(150);
    expect(await count('small.v2')).toBe(3);
    await mismatches('big.v2', 150, 1000);
    expect(await compat.flush()).toBe(true);
    expect(await count('big.v2')).toBe(200);
    const { rows } = await db.query<{ unit_id: string }>(`SELECT unit_id FROM ferry.shadow_mismatches WHERE flag_key = 'big.v2' ORDER BY id LIMIT 1`);
    expect(rows[0]?.unit_id).toBe('u120'); // the newest 200: the last 50 of the first flush, then all 150 of the second
    expect(await count('small.v2')).toBe(3);
  });

  it('stores values that are too large or not JSON as a truncated string', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'odd.v2', 100);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic.self = cyclic;
    await compat.shadow<unknown>('odd.v2', 'a', { control: () => ({ text: 'x'.repeat(10_000) }), candidate: () => ({ text: 'y' }) });
    await compat.shadow<unknown>('odd.v2', 'b', { control: () => cyclic, candidate: () => ({ big: 10n }) });
    await compat.shadow<unknown>('odd.v2', 'c', { control: () => undefined, candidate: () => null });
    await until('three mismatches', () => compat.mismatches('odd.v2').length === 3);
    expect(await compat.flush()).toBe(true);
    const { rows } = await db.query<{ unit_id: string; control: unknown; candidate: unknown }>(
      `SELECT unit_id, control, candidate FROM ferry.shadow_mismatches ORDER BY unit_id`,
    );
    const [a, b, c] = rows;
    expect(typeof a?.control).toBe('string');
    expect(String(a?.control).length).toBe(4097);
    expect(a?.candidate).toEqual({ text: 'y' });
    expect(b?.control).toMatch(/name: 'loop'/);
    expect(b?.candidate).toMatch(/10n/);
    expect(c).toEqual({ unit_id: 'c', control: null, candidate: null });
  });
});

describe('shadow: Prometheus exposition', () => {
  it('counts comparisons by outcome and failed secondary writes; both add to ferry_data_errors_total', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'prom.v2', 100);
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    await flags.metricsText();
    await compat.shadow('prom.v2', 'a', { control: () => 1, candidate: () => 1 });
    await compat.shadow('prom.v2', 'b', { control: () => 1, candidate: () => 2 });
    await compat.shadow('prom.v2', 'c', { control: () => 1, candidate: () => Promise.reject(new Error('x')) });
    await compat.dualWrite('prom.v2', 'd', { primary: () => 1, secondary: () => Promise.reject(new Error('y')) });
    await until('three comparisons', () => compat.mismatches('prom.v2').length === 1);
    let text = '';
    await until('the exposition to show them', async () => {
      text = await flags.metricsText();
      return text.includes('ferry_shadow_comparisons_total{flag="prom.v2",cohort="new",outcome="error"} 1');
    });
    expect(text).toContain('ferry_shadow_comparisons_total{flag="prom.v2",cohort="new",outcome="match"} 1');
    expect(text).toContain('ferry_shadow_comparisons_total{flag="prom.v2",cohort="new",outcome="mismatch"} 1');
    expect(text).toContain('ferry_shadow_comparisons_total{flag="prom.v2",cohort="new",outcome="timeout"} 0');
    expect(text).toContain('ferry_write_failures_total{flag="prom.v2",cohort="new"} 1');
    expect(text).toContain('ferry_data_errors_total{flag="prom.v2",cohort="new"} 2');
    expect(text).toContain('ferry_requests_total{flag="prom.v2",cohort="new"} 4');
  });
});

describe('shadow: an older ferry state', () => {
  it('flushes to a ferry.metrics without the compat columns (state before version 11): mismatches still count as data errors', async () => {
    const db = await (await emptyPgliteTarget()).open();
    cleanups.push(() => db.close());
    const flags = await flagsOn(db, 'legacy.v2', 100);
    await db.exec(
      'ALTER TABLE ferry.metrics DROP COLUMN comparisons, DROP COLUMN mismatches, DROP COLUMN candidate_errors, DROP COLUMN candidate_timeouts, DROP COLUMN write_failures, DROP COLUMN candidate_latency',
    );
    const compat = createCompat(flags, { flushIntervalMs: 600_000 });
    cleanups.push(() => compat.close());
    await compat.shadow('legacy.v2', 'a', { control: () => 1, candidate: () => 2 });
    await until('the mismatch', () => compat.mismatches('legacy.v2').length === 1);
    expect(await flags.flush()).toBe(true);
    const { rows } = await db.query<{ requests: number; data_errors: number }>(
      `SELECT sum(requests)::int AS requests, sum(data_errors)::int AS data_errors FROM ferry.metrics WHERE flag_key = 'legacy.v2'`,
    );
    expect(rows[0]).toEqual({ requests: 1, data_errors: 1 });
  });
});
