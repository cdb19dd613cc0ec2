import { describe, expect, it } from 'vitest';
import { serverAvailable } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { currentMatrix, decisions, healthProject, serverTarget, startService, up, where } from './fixtures.js';

describe.runIf(await serverAvailable())('what health and the controller say [server]', () => {
  it('at 100 % the phase stays rolling until the 100 % hold has been judged', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target, { holds: ['1s', '1s', '1s', '1s', '1h'] });
    await up(p);
    await startService(url, flag);
    const ctl = startFerry(p.root, ['rollout', id, 'run']);
    await until('the rollout to reach 100 %', async () => (await where(db, id)).percentage === 100, ctl);
    // Wait for an evaluation at 100 %: it holds the stage, and the phase is still rolling.
    await until('an evaluation at 100 %', async () => (await decisions(db, id)).some((d) => d.details.percentage === 100), ctl);
    expect(await where(db, id)).toMatchObject({ phase: 'rolling', percentage: 100 });
    expect((await decisions(db, id)).some((d) => d.details.action === 'complete')).toBe(false);
    ctl.kill('SIGTERM');
    const done = await ctl.done;
    expect(done.code, done.stderr).toBe(0);
    expect((await where(db, id)).phase).toBe('rolling');
  });

  it('red on p99 latency alone: the decision is pause, and the hint says pause, not roll back', async () => {
    const { url, db, target } = await serverTarget();
    const { p, id, flag } = healthProject(target, { holds: ['1h', '1s', '1s', '1s', '1s'] });
    await up(p);
    expect((await runFerry(p.root, ['rollout', id, 'set', '5'])).code).toBe(0);
    await startService(url, flag, { newLatencyFactor: 3 });
    await until('red latency to be visible in the metrics', async () => (await currentMatrix(db, id, flag)).colour === 'red');
    const json = await runFerryJson<{ decision: { action: string }; matrix: { metrics: { metric: string; colour: string }[] } }>(p.root, ['health', id]);
    expect(json.code).toBe(17);
    expect(json.json.decision.action).toBe('pause');
    expect(json.json.matrix.metrics.filter((m) => m.colour === 'red').map((m) => m.metric)).toEqual(['latencyP99']);
    const human = await runFerry(p.root, ['health', id]);
    expect(human.code).toBe(17);
    expect(human.stdout).toContain('decision: pause');
    expect(human.stderr).toContain('red on p99 latency alone is degraded, not severe');
    expect(human.stderr).toContain(`\`ferry rollout ${id} run\` pauses here`);
    expect(human.stderr).not.toContain('roll back: ');
  });
});
