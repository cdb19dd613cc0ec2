import { expect, it } from 'vitest';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const FLAG = 'orders.new-path';

/** A migration with flag FLAG on stages 5, 25, 50, 75, 100 %; the first stage held `firstHold`, the rest 1 s. */
function project(target: TestTarget, firstHold: string): { p: TestProject; id: string } {
  const p = createProject(target);
  const id = p.migration('0001_add', [{ id: 'add', up: 'CREATE TABLE t (id int);', down: 'DROP TABLE t;' }], {
    flag: FLAG,
    rollout: { stages: [5, 25, 50, 75, 100].map((percent, i) => ({ percent, hold: i === 0 ? firstHold : '1s' })) },
  });
  return { p, id };
}

interface ErrorDocument {
  error: { code: string; message: string; hint: string };
}
interface Status {
  phase: string;
  percentage: number;
  remainingMs: number;
  flagPercentage: number;
}
interface Log {
  events: { kind: string; toPhase: string | null; reason: string | null; details: Record<string, unknown> | null }[];
}

const status = async (p: TestProject, id: string) => (await runFerryJson<Status>(p.root, ['rollout', id, 'status'])).json;

forEachDriver('rollout set and the stage schedule', (suite) => {
  it('at 5 %, set 100 is refused naming the next stage and the hold left, unless --now --reason, which the log records', async () => {
    const target = await suite.fresh();
    const { p, id } = project(target, '1h');
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    expect((await runFerry(p.root, ['rollout', id, 'set', '5'])).code).toBe(0);
    const before = await fingerprint(target);

    const skip = await runFerryJson<ErrorDocument>(p.root, ['rollout', id, 'set', '100']);
    expect(skip.code).toBe(9);
    expect(skip.json.error.code).toBe('E_GATE');
    expect(skip.json.error.message).toMatch(
      new RegExp(`^cannot set ${id} to 100 %: the next stage is 25 % \\(then held 1\\.0s\\), and the 5 % stage has (59m \\d+s|1h) of its 1h hold left$`),
    );
    expect(skip.json.error.hint).toContain(`ferry rollout ${id} set 100 --now --reason "…"`);
    const early = await runFerryJson<ErrorDocument>(p.root, ['rollout', id, 'set', '25']);
    expect(early.code).toBe(9);
    expect(early.json.error.message).toMatch(/the 5 % stage has .* of its 1h hold left$/);
    const noReason = await runFerryJson<ErrorDocument>(p.root, ['rollout', id, 'set', '100', '--now']);
    expect(noReason.code).toBe(2);
    expect(noReason.json.error.message).toBe('set --now needs --reason "…"');
    expect(await fingerprint(target)).toBe(before);
    expect(await status(p, id)).toMatchObject({ phase: 'canary', percentage: 5, flagPercentage: 5 });

    // Going back needs no reason.
    const back = await runFerry(p.root, ['rollout', id, 'set', '2.5']);
    expect(back.code, back.stderr).toBe(0);
    expect(await status(p, id)).toMatchObject({ phase: 'canary', percentage: 2.5 });

    const forced = await runFerry(p.root, ['rollout', id, 'set', '100', '--now', '--reason', 'hotfix must reach everyone']);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.stdout).toContain('(early)');
    // At 100 % the phase stays rolling until the 100 % hold has been judged.
    expect(await status(p, id)).toMatchObject({ phase: 'rolling', percentage: 100, flagPercentage: 100 });
    const events = (await runFerryJson<Log>(p.root, ['log', id])).json.events;
    const flag = events.filter((e) => e.kind === 'flag').at(-1);
    expect(flag?.details).toMatchObject({ to: 100 });
    expect(flag?.reason).toMatch(/^set early to 100 % past 5 %, 25 %, 50 %, 75 %, after .* of the 2\.5 % stage's 1h hold: hotfix must reach everyone$/);
    const moved = events.filter((e) => e.kind === 'transition').at(-1);
    expect(moved).toMatchObject({ toPhase: 'rolling', reason: flag?.reason });
  });

  it('the next stage after its hold needs no reason; past it, or past the first stage before the rollout starts, is refused', async () => {
    const target = await suite.fresh();
    const { p, id } = project(target, '1s');
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const first = await runFerryJson<ErrorDocument>(p.root, ['rollout', id, 'set', '50']);
    expect(first.code).toBe(9);
    expect(first.json.error.message).toBe(`cannot set ${id} to 50 %: a rollout starts at its first stage, 5 %`);
    expect((await runFerry(p.root, ['rollout', id, 'set', '5'])).code).toBe(0);
    // Wait out the 1 s hold by polling status.
    while ((await status(p, id)).remainingMs > 0) await new Promise((r) => setTimeout(r, 200));
    const past = await runFerryJson<ErrorDocument>(p.root, ['rollout', id, 'set', '50']);
    expect(past.code).toBe(9);
    expect(past.json.error.message).toBe(`cannot set ${id} to 50 %: the next stage is 25 % (then held 1.0s)`);
    const next = await runFerry(p.root, ['rollout', id, 'set', '25']);
    expect(next.code, next.stderr).toBe(0);
    expect(next.stdout).not.toContain('(early)');
    expect(await status(p, id)).toMatchObject({ phase: 'rolling', percentage: 25 });
  });
});
