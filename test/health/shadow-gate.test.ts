import { describe, expect, it } from 'vitest';
import { createCompat } from '../../src/compat/client.js';
import { readFlag } from '../../src/rollout/flags.js';
import { createFlags } from '../../src/sdk/index.js';
import { serverAvailable } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { cleanups, currentMatrix, decisions, healthProject, SHARED_SERVER_RESOURCES, serverTarget, up, where } from './fixtures.js';

/** Evaluate every second over a window long enough that a loaded machine cannot age the mismatches out of it. */
const HEALTH = { interval: '1s', window: '60s', thresholds: { minRequests: 30, resources: SHARED_SERVER_RESOURCES } };

type Verdict = { metric: string; value: number | null; colour: string };

/**
 * A rollout at its first stage (5 %, held an hour) with `ferry rollout run` watching it, and an application's
 * compat client doing shadow reads: `mismatches` differing ones in the new cohort, matches for the rest.
 */
async function shadowReadsAtFirstStage(mismatches: number) {
  const { url, db, target } = await serverTarget();
  const { p, id, flag } = healthProject(target, { holds: ['1h', '1s', '1s', '1s', '1s'], health: HEALTH });
  await up(p);
  const ctl = startFerry(p.root, ['rollout', id, 'run']);
  cleanups.push(async () => ctl.kill('SIGKILL'));
  await until('the rollout to start at 5 %', async () => (await where(db, id)).percentage === 5, ctl);
  const flags = createFlags({ url }, { heartbeatMs: 200, metrics: { flushIntervalMs: 600_000, bucketMs: 1000 } });
  cleanups.push(() => flags.close());
  await until('the SDK to see 5 %', () => flags.flag(flag)?.enabled === true && flags.flag(flag)?.percentage === 5);
  const compat = createCompat(flags, { flushIntervalMs: 600_000 });
  cleanups.push(() => compat.close());
  const units = Array.from({ length: 4000 }, (_, i) => `user-${i}`);
  const canary = units.filter((u) => flags.cohort(flag, u) === 'new').slice(0, 40);
  const baseline = units.filter((u) => flags.cohort(flag, u) === 'old').slice(0, 40);
  expect(canary).toHaveLength(40);
  for (const [i, unit] of canary.entries()) {
    const differ = i < mismatches;
    expect(
      await compat.shadow(flag, unit, { control: () => ({ name: 'Ada Lovelace' }), candidate: () => ({ name: differ ? 'Ada' : 'Ada Lovelace' }) }),
    ).toEqual({
      name: 'Ada Lovelace',
    });
  }
  for (const unit of baseline) await compat.shadow(flag, unit, { control: () => 1, candidate: () => 1 });
  await until('every comparison to be recorded', () => compat.mismatches(flag).length === mismatches);
  await new Promise((r) => setTimeout(r, 5)); // the baseline's last comparisons start on a zero timer
  expect(await compat.flush()).toBe(true);
  return { db, id, flag, ctl };
}

describe.runIf(await serverAvailable())('shadow mismatches gate the rollout (SDK source, real controller)', () => {
  it('6 mismatches in the new cohort turn the matrix red and the controller rolls back', async () => {
    const { db, id, flag, ctl } = await shadowReadsAtFirstStage(6);
    const done = await ctl.done;
    expect(done.code, `${done.stdout}\n${done.stderr}`).toBe(17);
    const rollback = (await decisions(db, id)).find((d) => d.details.action === 'rollback');
    expect(rollback?.details).toMatchObject({ colour: 'red', percentage: 5 });
    const dataErrors = ((rollback?.details.metrics ?? []) as Verdict[]).find((m) => m.metric === 'dataErrors');
    expect(dataErrors).toMatchObject({ value: 6, colour: 'red' });
    expect(await readFlag(db, flag)).toMatchObject({ enabled: false });
    expect((await where(db, id)).phase).toBe('rolled-back');
  });

  it('1 to 5 mismatches are yellow', async () => {
    const { db, id, flag, ctl } = await shadowReadsAtFirstStage(5);
    const matrix = await currentMatrix(db, id, flag, HEALTH);
    expect(matrix.metrics.find((m) => m.metric === 'dataErrors')).toMatchObject({ value: 5, colour: 'yellow' });
    // The matrix as a whole also judges the p99 of these microsecond-long synthetic reads, which is noise: only
    // the data-error row is this test's business.
    ctl.kill('SIGTERM');
    await ctl.done;
  });
});
