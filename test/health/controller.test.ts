import { describe, expect, it } from 'vitest';
import { readController } from '../../src/health/index.js';
import { readFlag } from '../../src/rollout/flags.js';
import { serverAvailable } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { currentMatrix, decisions, evaluations, healthProject, serverTarget, startService, up, where } from './fixtures.js';

type MetricRow = { metric: string; value: number | null; baseline: number | null; compared: number | null; colour: string };
/** The metrics logged with a decision event. */
const metricsOf = (d: { details: Record<string, unknown> } | undefined) => (d?.details.metrics ?? []) as MetricRow[];

interface HealthJson {
  matrix: { colour: string; metrics: { metric: string; colour: string; value: number | null; baseline: number | null }[] };
  decision: { action: string; down: boolean };
}

describe.runIf(await serverAvailable())('ferry rollout run: the health controller on the server', () => {
  it('green traffic promotes through every stage (holds of seconds) and exits 0', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target);
    await up(p);
    await startService(url, flag);
    const run = await runFerry(p.root, ['rollout', id, 'run']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
    expect(run.stdout).toMatch(/rolled out/);
    expect(await where(db, id)).toMatchObject({ phase: 'rolled-out', percentage: 100 });
    expect((await readFlag(db, flag))?.percentage).toBe(100);
    const promoted = (await decisions(db, id)).filter((d) => d.details.action === 'promote');
    expect(promoted.map((d) => d.details.percentage)).toEqual([5, 25, 50, 75]);
    for (const d of promoted) expect(d.details.colour).toBe('green');
    const last = (await decisions(db, id)).at(-1);
    expect(last?.details).toMatchObject({ action: 'complete', colour: 'green', percentage: 100 });
    // At 100 % no unit is in the old cohort any more; the p99 still had a baseline (its last traffic, or from before the stage).
    const p99 = metricsOf(last).find((m) => m.metric === 'latencyP99');
    expect(p99?.colour).toBe('green');
    expect(p99?.baseline).toBeGreaterThan(0);
    expect((await readController(db, id))?.state).toBe('done');

    const health = await runFerryJson<HealthJson>(p.root, ['health', id]);
    expect(health.code, health.stdout).toBe(0);
    expect(health.json.matrix.colour).toBe('green');
    expect(health.json.decision.action).toBe('complete');
  });

  it('errors above 1 % in the new cohort roll back (flag off) within one interval; exit 17', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target, { holds: ['1s', '1h', '1s', '1s', '1s'] });
    await up(p);
    const service = await startService(url, flag);
    const ctl = startFerry(p.root, ['rollout', id, 'run']);
    await until('the rollout to reach 25 %', async () => (await where(db, id)).percentage === 25, ctl);
    service.setProfile({ newErrorEvery: 20 }); // 5 % of the new cohort fails
    await until('red to be visible in the metrics', async () => (await currentMatrix(db, id, flag)).colour === 'red', ctl);
    const seen = await evaluations(db, id);
    const done = await ctl.done;
    expect(done.code, `${done.stdout}\n${done.stderr}`).toBe(17);
    expect(done.stderr).toMatch(/rolled .* back/);
    const rollback = (await decisions(db, id)).find((d) => d.details.action === 'rollback');
    expect(rollback?.details).toMatchObject({ colour: 'red', down: false, percentage: 25 });
    // The evaluation running when the errors became visible may have read just before; the next one acts.
    expect(rollback?.details.evaluation as number).toBeLessThanOrEqual(seen + 2);
    const errorRate = metricsOf(rollback).find((m) => m.metric === 'errorRate');
    expect(errorRate?.colour).toBe('red');
    expect(errorRate?.value).toBeGreaterThan(0.01);
    expect(await readFlag(db, flag)).toMatchObject({ enabled: false });
    expect((await where(db, id)).phase).toBe('rolled-back');
    // Quick rollback only: no data errors, so the steps stay applied.
    const { rows } = await db.query(`SELECT to_regclass('t2')::text AS t`);
    expect(rows[0]?.t).toBe('t2');
  });

  it('data errors above 5 roll back the flag and down the steps after the last safe point', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target, { holds: ['1h', '1s', '1s', '1s', '1s'], pointOfNoReturn: 'a' });
    await up(p);
    await startService(url, flag, { newDataErrorEvery: 5 });
    const run = await runFerry(p.root, ['rollout', id, 'run']);
    expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(17);
    const rollback = (await decisions(db, id)).find((d) => d.details.action === 'rollback');
    expect(rollback?.details).toMatchObject({ down: true });
    expect(metricsOf(rollback).find((m) => m.metric === 'dataErrors')?.colour).toBe('red');
    const down = (await decisions(db, id)).find((d) => d.details.action === 'down');
    expect(down?.details).toMatchObject({ steps: ['b'], safePoint: 'a' });
    const { rows } = await db.query(`SELECT to_regclass('t1')::text AS t1, to_regclass('t2')::text AS t2`);
    expect(rows[0]).toEqual({ t1: 't1', t2: null });
    expect(await readFlag(db, flag)).toMatchObject({ enabled: false });
    expect((await where(db, id)).phase).toBe('rolled-back');
  });

  it('p99 latency +30 % pauses; resume accepts it for the stage; green again resumes by itself', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target, { holds: ['2s', '2s', '1h', '1s', '1s'] });
    await up(p);
    const service = await startService(url, flag, { newLatencyFactor: 1.3 });
    const ctl = startFerry(p.root, ['rollout', id, 'run']);
    await until('the rollout to pause', async () => (await where(db, id)).phase === 'paused', ctl);
    expect((await where(db, id)).percentage).toBe(5);
    const pause = (await decisions(db, id)).find((d) => d.details.action === 'pause');
    expect(pause?.details.colour).toBe('yellow');
    const latency = metricsOf(pause).find((m) => m.metric === 'latencyP99');
    expect(latency?.colour).toBe('yellow');
    expect(latency?.compared).toBeGreaterThan(0.2);
    expect(latency?.compared).toBeLessThan(0.4);

    const health = await runFerryJson<HealthJson>(p.root, ['health', id]);
    expect(health.code, health.stdout).toBe(16);
    expect(health.json.decision.action).toBe('pause');

    // The operator accepts the yellow: the stage holds again, is not paused again and promotes.
    const resumed = await runFerry(p.root, ['rollout', id, 'resume', '--reason', 'known: cold cache']);
    expect(resumed.code, resumed.stderr).toBe(0);
    await until('the accepted stage to promote', async () => (await where(db, id)).percentage === 25, ctl);
    // The next stage is judged afresh: still +30 %, so it pauses again.
    await until('the rollout to pause at 25 %', async () => (await where(db, id)).phase === 'paused', ctl);
    expect((await where(db, id)).percentage).toBe(25);
    // The operator's acceptance was the one resume so far (a loaded machine may add noise-green resumes at 25 %
    // before the service turns healthy; those are not what this checks).
    const before = (await decisions(db, id)).length;
    expect((await decisions(db, id)).filter((d) => d.details.action === 'resume').length).toBeGreaterThanOrEqual(1);
    service.setProfile({});
    // Healthy again: the controller resumes by itself, on green, with no operator.
    const greenResume = async () => (await decisions(db, id)).slice(before).some((d) => d.details.action === 'resume' && d.details.colour === 'green');
    await until('green to resume it', async () => (await greenResume()) && (await where(db, id)).phase === 'rolling', ctl);
    ctl.kill('SIGTERM');
    const done = await ctl.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/stopped/);
    expect((await readController(db, id))?.owner).toBeNull();
  });

  it('too little traffic never promotes: no data (exit 18), however long the hold has elapsed', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target);
    await up(p);
    await startService(url, flag, { perTick: 1 }); // 40 requests/s: 2/s in a 5 % canary, under the 30 needed
    const ctl = startFerry(p.root, ['rollout', id, 'run']);
    await until('six evaluations', async () => (await evaluations(db, id)) >= 6, ctl);
    const s = await runFerryJson<{ percentage: number; remainingMs: number; controller: { state: string } }>(p.root, ['rollout', id, 'status']);
    expect(s.json.percentage).toBe(5);
    expect(s.json.remainingMs).toBe(0);
    expect(s.json.controller.state).toBe('waiting');
    const health = await runFerryJson<HealthJson>(p.root, ['health', id]);
    expect(health.code, health.stdout).toBe(18);
    expect(health.json.matrix.colour).toBe('no-data');
    expect(health.json.decision.action).toBe('wait');
    const actions = new Set((await decisions(db, id)).map((d) => d.details.action));
    expect(actions).toEqual(new Set(['wait']));
    ctl.kill('SIGTERM');
    expect((await ctl.done).code).toBe(0);
    expect(await where(db, id)).toMatchObject({ phase: 'canary', percentage: 5 });
  });

  it('a killed controller (SIGKILL) started again continues at the same stage; a second one cannot run beside it', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target, { holds: ['1s', '1h', '1s', '1s', '1s'] });
    await up(p);
    await startService(url, flag);
    const first = startFerry(p.root, ['rollout', id, 'run']);
    await until('the rollout to reach 25 %', async () => (await where(db, id)).percentage === 25, first);
    await until('an evaluation at 25 %', async () => (await readController(db, id))?.percentage === 25, first);
    const before = await where(db, id);
    const evaluated = await evaluations(db, id);
    first.kill('SIGKILL');
    expect((await first.done).signal).toBe('SIGKILL');

    const second = startFerry(p.root, ['rollout', id, 'run']);
    await second.waitForOutput('continues at 25 %');
    await until('the restarted controller to evaluate', async () => (await evaluations(db, id)) > evaluated, second);
    // Same stage, same hold: nothing was set again.
    expect(await where(db, id)).toEqual(before);
    const flagEvents = (await runFerryJson<{ events: { kind: string }[] }>(p.root, ['log', id])).json.events.filter((e) => e.kind === 'flag');
    expect(flagEvents).toHaveLength(2);

    const third = await runFerry(p.root, ['rollout', id, 'run', '--lock-wait', '1s']);
    expect(third.code, third.stderr).toBe(7);
    expect(third.stderr).toMatch(/another controller is running the rollout of 0001_checkout/);
    expect(second.exited()).toBe(false);
    second.kill('SIGTERM');
    expect((await second.done).code).toBe(0);
  });
});
