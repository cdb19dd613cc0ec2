import { expect, it } from 'vitest';
import { appendEvent } from '../../src/state/store.js';
import { forEachDriver, type TestTarget, withDb } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';
import { SPLIT, splitProject } from './fixtures.js';

async function ok(p: TestProject, args: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** Three wrong first names written past the sync trigger, as a buggy bulk load would. */
const corrupt = (target: TestTarget) =>
  withDb(target, (db) =>
    db.transaction(async (tx) => {
      await tx.query("SET LOCAL session_replication_role = 'replica'");
      await tx.query("UPDATE users SET first_name = 'Corrupted' WHERE id IN (7, 8, 9)");
    }),
  );

const repair = (target: TestTarget) => withDb(target, (db) => db.query("UPDATE users SET first_name = split_part(full_name, ' ', 1) WHERE id IN (7, 8, 9)"));

/** A green evaluation as the health controller logs it: its thresholds name "red", its colour is green. */
const greenEvaluation = (target: TestTarget) =>
  withDb(target, (db) =>
    appendEvent(db, {
      migrationId: SPLIT,
      actor: 'controller',
      kind: 'health',
      reason: 'green (all metrics within thresholds): hold the stage',
      details: {
        evaluation: 1,
        action: 'hold',
        down: false,
        colour: 'green',
        percentage: 50,
        metrics: [{ metric: 'errorRate', value: 0, baseline: 0, compared: 0, threshold: { yellow: 0.001, red: 0.01 }, colour: 'green' }],
      },
    }),
  );

/** Wait until the current stage's hold has elapsed (the schedule holds each stage 1 s). */
async function holdElapsed(p: TestProject): Promise<void> {
  while ((await runFerryJson<{ remainingMs: number }>(p.root, ['rollout', SPLIT, 'status'])).json.remainingMs > 0) await new Promise((r) => setTimeout(r, 200));
}

interface StatusJson {
  complete: boolean;
  migrations: {
    migrationId: string;
    complete: boolean;
    stepsComplete: boolean;
    dataChecks: { complete: boolean; passed: string[]; failed: string[]; neverRan: string[] };
  }[];
}

forEachDriver('honest documents and output', (suite) => {
  it('verify --status is not complete while a declared check never ran or failed, and says which ran, when, and how', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    splitProject(p);
    await ok(p, ['up']);

    // Every step verifies, but the data check never ran: not complete.
    const never = await runFerryJson<StatusJson>(p.root, ['verify', SPLIT, '--status']);
    expect(never.code, never.stderr).toBe(12);
    expect(never.json.migrations[0]).toMatchObject({ complete: false, stepsComplete: true, dataChecks: { complete: false, neverRan: ['names-match'] } });
    const human = await runFerry(p.root, ['verify', SPLIT, '--status']);
    expect(human.stdout).toContain('incomplete (steps complete; the data checks are not all run and passed)');
    expect(human.stdout).toContain('checks: 0 of 1 declared check(s) passed; never ran: names-match');
    expect(human.stderr).toContain(`\`ferry verify ${SPLIT} --full\``);

    // A failing run is shown as failed, with when it ran.
    await corrupt(target);
    expect((await runFerry(p.root, ['verify', SPLIT, '--full'])).code).toBe(12);
    const failed = await runFerry(p.root, ['verify', SPLIT, '--status']);
    expect(failed.code).toBe(12);
    expect(failed.stdout).toMatch(/✘ fail {2}names-match .* ran \d{4}-\d\d-\d\d \d\d:\d\d UTC by /);
    expect(failed.stdout).toContain('failed: names-match');

    await repair(target);
    expect((await runFerry(p.root, ['verify', SPLIT, '--full'])).code).toBe(0);
    const done = await runFerryJson<StatusJson>(p.root, ['verify', SPLIT, '--status']);
    expect(done.code, done.stderr).toBe(0);
    expect(done.json.migrations[0]).toMatchObject({ complete: true, dataChecks: { complete: true, passed: ['names-match'], neverRan: [] } });
  });

  it('the report and retro: downs before the canary, green evaluations, failed verification runs, every step, a forced cleanup', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    splitProject(p);
    await ok(p, ['up']);
    // A down before the rollout started, and up again: not a rollout rollback.
    await ok(p, ['down', SPLIT]);
    await ok(p, ['up', SPLIT]);
    // A failed verification run, then a passing one.
    await corrupt(target);
    expect((await runFerry(p.root, ['verify', SPLIT, '--full'])).code).toBe(12);
    await repair(target);
    await ok(p, ['verify', SPLIT, '--full']);

    await ok(p, ['rollout', SPLIT, 'set', '50']);
    await greenEvaluation(target);
    await holdElapsed(p);
    await ok(p, ['rollout', SPLIT, 'advance']);

    const midway = await ok(p, ['report', SPLIT]);
    // Every step counted, the contract step included.
    const steps = /(\d+)\/(\d+) steps applied \(1 of them contract steps\)/.exec(midway);
    expect(steps?.[1], midway).toBe(String(Number(steps?.[2]) - 1));
    expect(midway).toContain(`- [x] every step applied _(${steps?.[1]}/${steps?.[2]} steps applied (1 contract step(s) run at cleanup))_`);

    await holdElapsed(p);
    await ok(p, ['rollout', SPLIT, 'advance']);
    await ok(p, ['verify', SPLIT, '--full']);
    // Cleanup prints in the order things happened: forced, backup, contract step, → contracted, flag graduated, tombstone, archive, → archived.
    const cleanup = await ok(p, ['cleanup', SPLIT, '--force', '--reason', 'test: no old client left']);
    const order = [
      'forced before the deprecation period',
      'backup ',
      `${SPLIT}/split-name.drop-old-column`,
      'verified → contracted',
      'flag split-names graduated',
      'flag split-names kept as a graduated tombstone',
      'archived ',
      'contracted → archived',
    ];
    const at = order.map((x) => cleanup.indexOf(x));
    expect(
      at.every((i) => i >= 0),
      cleanup,
    ).toBe(true);
    expect(
      [...at].sort((x, y) => x - y),
      cleanup,
    ).toEqual(at);

    const report = await ok(p, ['report', SPLIT]);
    expect(report).toContain(`${steps?.[2]}/${steps?.[2]} steps applied`);
    expect(report).toContain('0 rollback(s) during the rollout, 2 incident(s) recorded.');
    expect(report).toMatch(/1 `down`\(s\) before the rollout started \(not rollout rollbacks\): .* from backfilled by /);
    expect(report).toContain('- [x] no rollback during the rollout _(0 rollback(s) in the log)_');
    expect(report).toMatch(/### Verification runs \(2 failed of \d+\)/);
    expect(report).toMatch(/\| checks \(full\) \| .* \| FAIL \| names-match: 3 data error\(s\) \|/);
    expect(report).toMatch(/\| checks \(full\) \| .* \| pass \| 1 check\(s\) passed \|/);
    // The green evaluation is in the health table, not among the incidents.
    expect(report).toMatch(/\| 50 % \| green \| /);
    expect(report.slice(report.indexOf('## Incidents and rollbacks'), report.indexOf('## Cleanup'))).not.toContain('| health |');
    expect(report).toMatch(
      /\*\*Cleanup was forced\*\* before the deprecation period passed, by .*: cleanup before the deprecation period passed .*: test: no old client left/,
    );

    const retro = await ok(p, ['retro', SPLIT]);
    expect(retro).toContain('- Rollbacks during the rollout: 0.');
    expect(retro).toMatch(/- `down` before the rollout started \(not a rollout rollback\): 1 \(.* from backfilled\)\./);
    expect(retro).toMatch(/- Failed verification runs: 2 \(.*checks \(full\): names-match: 3 data error\(s\)/);
    expect(retro).toMatch(/- Incidents: 2 \((checks|verify) at [^;]*; (checks|verify) at [^;]*\)\./);
    expect(retro).toContain(`- Steps: ${steps?.[2]}/${steps?.[2]} applied (1 contract step(s)).`);
    expect(retro).toMatch(/- Cleanup forced before the deprecation period passed: yes, by .*: test: no old client left\./);
  }, 900_000);
});
