import { expect, it } from 'vitest';
import { forEachDriver } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

interface VerifyJson {
  complete: boolean;
  migrations: { migrationId: string; steps: { stepId: string; result: string }[] }[];
}

forEachDriver('--json output', (suite) => {
  it('verify --status --json prints one document, and the exit code says incomplete', async () => {
    const p = createProject(await suite.fresh());
    p.migration('0001_two', [
      { id: 'one', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;', verify: `SELECT to_regclass('a') IS NOT NULL` },
      { id: 'two', up: 'CREATE TABLE b (x int);', down: 'DROP TABLE b;' },
    ]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    expect((await runFerry(p.root, ['down', '0001_two', '--to', 'one'])).code).toBe(0);
    const r = await runFerryJson<VerifyJson>(p.root, ['verify', '--status']);
    expect(r.code).toBe(12);
    expect(r.json.complete).toBe(false);
    expect(r.json.migrations[0]?.steps).toEqual([
      { stepId: 'one', applied: true, result: 'pass', failures: [] },
      { stepId: 'two', applied: false, result: 'not-applied', failures: [] },
    ]);
    const human = await runFerry(p.root, ['verify', '--status']);
    expect(human.stderr).toContain('run `ferry up` to apply the pending steps, then verify again');
    const up = await runFerryJson<{ steps: { stepId: string; status: string }[]; transitions: { to: string }[] }>(p.root, ['up']);
    expect(up.code).toBe(0);
    expect(up.json.steps.map((s) => [s.stepId, s.status])).toEqual([['two', 'applied']]);
    expect(up.json.transitions.map((t) => t.to)).toEqual(['expanded']);
    const log = await runFerryJson<{ events: { kind: string; toPhase: string | null }[] }>(p.root, ['log', '0001_two']);
    expect(log.json.events.filter((e) => e.kind === 'transition').map((e) => e.toPhase)).toEqual(['approved', 'expanded', 'rolled-back', 'expanded']);
  });
});
