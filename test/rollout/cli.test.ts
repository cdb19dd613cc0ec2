import { expect, it } from 'vitest';
import { bucketOf } from '../../src/bucket.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const FLAG = 'users.split-name';

/** A migration with flag FLAG; the first stage is held 1 h (so `advance` is refused however slow the machine), the rest 1 s. */
function project(target: TestTarget, stages = [5, 25, 50, 75, 100]): { p: TestProject; id: string } {
  const p = createProject(target);
  const id = p.migration('0001_add', [{ id: 'add', up: 'CREATE TABLE t (id int);', down: 'DROP TABLE t;' }], {
    flag: FLAG,
    rollout: { stages: stages.map((percent, i) => ({ percent, hold: i === 0 ? '1h' : '1s' })) },
  });
  return { p, id };
}

interface Flags {
  flags: { key: string; enabled: boolean; percentage: number; migrationId: string | null }[];
}
interface Log {
  events: { kind: string; fromPhase: string | null; toPhase: string | null; reason: string | null; details: Record<string, unknown> | null }[];
}

const flagState = async (p: TestProject) => (await runFerryJson<Flags>(p.root, ['flag', 'list'])).json.flags;
const log = async (p: TestProject, id: string) => (await runFerryJson<Log>(p.root, ['log', id])).json.events;
const phase = async (p: TestProject, id: string) =>
  (await runFerryJson<{ migrations: { id: string; phase: string }[] }>(p.root, ['status'])).json.migrations.find((m) => m.id === id)?.phase;

forEachDriver('ferry flag / rollout', (suite) => {
  it('flag set/get/list/remove: percentages, buckets, the quick rollback, and removal refused while needed', async () => {
    const { p, id } = project(await suite.fresh());
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const set = await runFerry(p.root, ['flag', 'set', FLAG, '12.5%']);
    expect(set.code, set.stderr).toBe(0);
    expect(await flagState(p)).toEqual([expect.objectContaining({ key: FLAG, enabled: true, percentage: 12.5, migrationId: id })]);

    const unit = 'user-42';
    const get = await runFerryJson<{ bucket: number; in: boolean; percentage: number }>(p.root, ['flag', 'get', FLAG, '--unit', unit]);
    expect(get.json).toMatchObject({ bucket: bucketOf(FLAG, unit), percentage: 12.5, in: bucketOf(FLAG, unit) < 1250 });

    for (const bad of ['-1', '100.001', 'abc', 'NaN', '5.555', '101']) {
      const r = await runFerry(p.root, ['flag', 'set', FLAG, bad]);
      expect(r.code, `${bad}: ${r.stderr}`).toBe(2);
    }
    expect((await runFerry(p.root, ['flag', 'set', FLAG, 'abc'])).stderr).toMatch(/not a percentage/);
    const unknown = await runFerry(p.root, ['flag', 'set', 'no.such.flag', '5']);
    expect(unknown.code).toBe(5);
    expect(unknown.stderr).toMatch(/no flag "no.such.flag"/);
    expect((await runFerry(p.root, ['flag', 'get', 'no.such.flag', '--unit', 'u'])).code).toBe(5);
    expect((await runFerry(p.root, ['flag', 'remove', 'no.such.flag'])).code).toBe(5);
    expect(await flagState(p)).toEqual([expect.objectContaining({ key: FLAG, enabled: true, percentage: 12.5 })]);

    const off = await runFerry(p.root, ['flag', 'set', FLAG, 'false']);
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toMatch(/quick rollback/);
    expect(await flagState(p)).toEqual([expect.objectContaining({ enabled: false, percentage: 0 })]);
    const flagEvents = (await log(p, id)).filter((e) => e.kind === 'flag');
    expect(flagEvents.map((e) => e.details)).toEqual([
      expect.objectContaining({ from: null, to: 12.5 }),
      expect.objectContaining({ from: 12.5, to: 0, quickRollback: true }),
    ]);
    expect(flagEvents[1]?.reason).toMatch(/quick rollback/);

    const refused = await runFerry(p.root, ['flag', 'remove', FLAG]);
    expect(refused.code).toBe(9);
    expect(refused.stderr).toMatch(new RegExp(`cannot remove flag ${FLAG}: migration ${id} \\(expanded\\) still needs it`));
    expect(await flagState(p)).toHaveLength(1);
  });

  it('rollout: backfilled/expanded → canary → rolling → rolled-out, holds enforced, out-of-order refused', async () => {
    const { p, id } = project(await suite.fresh(), [5, 50, 100]);
    // Before up: planned.
    const planned = await runFerry(p.root, ['rollout', id, 'set', '5']);
    expect(planned.code, planned.stderr).toBe(9);
    expect(planned.stderr).toMatch(/planned/);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const early = await runFerry(p.root, ['rollout', id, 'advance']);
    expect(early.code).toBe(9);
    expect(early.stderr).toMatch(/has not started/);
    expect((await runFerry(p.root, ['rollout', id, 'set', '0'])).code).toBe(2);
    expect((await runFerry(p.root, ['rollout', id, 'set', '100.001'])).code).toBe(2);
    expect(await phase(p, id)).toBe('expanded');
    expect(await flagState(p)).toEqual([]);

    const canary = await runFerry(p.root, ['rollout', id, 'set', '5']);
    expect(canary.code, canary.stderr).toBe(0);
    expect(await phase(p, id)).toBe('canary');
    const held = await runFerry(p.root, ['rollout', id, 'advance']);
    expect(held.code).toBe(9);
    expect(held.stderr).toMatch(/remaining/);
    expect((await runFerry(p.root, ['rollout', id, 'advance', '--now'])).code).toBe(2);
    const now = await runFerry(p.root, ['rollout', id, 'advance', '--now', '--reason', 'metrics green']);
    expect(now.code, now.stderr).toBe(0);
    expect(await phase(p, id)).toBe('rolling');
    expect(await flagState(p)).toEqual([expect.objectContaining({ enabled: true, percentage: 50 })]);

    // Wait for the 1 s hold by polling status.
    for (;;) {
      const s = await runFerryJson<{ remainingMs: number; percentage: number; next: { percent: number } | null }>(p.root, ['rollout', id, 'status']);
      expect(s.json.percentage).toBe(50);
      expect(s.json.next?.percent).toBe(100);
      if (s.json.remainingMs === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const last = await runFerry(p.root, ['rollout', id, 'advance']);
    expect(last.code, last.stderr).toBe(0);
    // 100 % is not rolled out yet: its hold is judged first, then `advance` moves it.
    expect(await phase(p, id)).toBe('rolling');
    expect(await flagState(p)).toEqual([expect.objectContaining({ enabled: true, percentage: 100 })]);
    for (;;) {
      const s = await runFerryJson<{ remainingMs: number; percentage: number }>(p.root, ['rollout', id, 'status']);
      expect(s.json.percentage).toBe(100);
      if (s.json.remainingMs === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const complete = await runFerry(p.root, ['rollout', id, 'advance']);
    expect(complete.code, complete.stderr).toBe(0);
    expect(await phase(p, id)).toBe('rolled-out');
    const past = await runFerry(p.root, ['rollout', id, 'advance']);
    expect(past.code).toBe(9);
    expect((await runFerry(p.root, ['rollout', id, 'set', '50'])).code).toBe(9);

    const events = await log(p, id);
    expect(events.filter((e) => e.kind === 'transition').map((e) => e.toPhase)).toEqual(['approved', 'expanded', 'canary', 'rolling', 'rolled-out']);
    const early2 = events.find((e) => e.kind === 'flag' && e.details?.to === 50);
    expect(early2?.reason).toMatch(/advanced early .*metrics green/);
    expect(events.filter((e) => e.kind === 'flag').map((e) => e.details?.to)).toEqual([5, 50, 100]);
  });

  it('rollout refuses a migration without a flag', async () => {
    const p = createProject(await suite.fresh());
    const noFlag = p.migration('0002_noflag', [{ id: 'x', up: 'SELECT 1;', down: 'SELECT 1;' }]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const nf = await runFerry(p.root, ['rollout', noFlag, 'set', '5']);
    expect(nf.code).toBe(9);
    expect(nf.stderr).toMatch(/names no flag/);
  });
});
