import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { EXIT_CODES } from '../../src/errors.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const FLAG = 'users.names';

/** One migration with a flag, a canary include/exclude list and an API section (no module). */
function project(target: TestTarget): { p: TestProject; id: string } {
  const p = createProject(target);
  const id = p.migration('0001_names', [{ id: 'add', up: 'CREATE TABLE people (id int);', down: 'DROP TABLE people;' }], {
    flag: FLAG,
    rollout: { stages: [5, 100].map((percent) => ({ percent, hold: '1h' })), include: ['staff-1', 'staff-2'], exclude: ['qa-bot'] },
    api: { name: 'people', versions: [{ version: 'v1' }, { version: 'v2' }], mapping: [{ old: 'name', new: 'firstName + lastName' }] },
  });
  return { p, id };
}

interface Status {
  migrationStage: { name: string; meaning: string };
  canary: { percentage: number; include: { count: number; first: string[] }; exclude: { count: number } };
  shape: unknown;
}

forEachDriver('ferry rollout stage, consumers, upgrade-guide', (suite) => {
  it('moves the stage with --json, refuses a bad stage name with the usage exit code and changes nothing', async () => {
    const { p, id } = project(await suite.fresh());
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const moved = await runFerryJson<{ from: string; to: string; flag: string; moved: boolean }>(p.root, ['rollout', id, 'stage', 'dualwrite']);
    expect(moved.code).toBe(0);
    expect(moved.json).toMatchObject({ from: 'off', to: 'dualwrite', flag: FLAG, moved: true });

    const bad = await runFerry(p.root, ['rollout', id, 'stage', 'halfway']);
    expect(bad.code).toBe(EXIT_CODES.E_USAGE);
    expect(bad.stderr).toContain('off, dualwrite, shadow, live, rampdown, complete');

    const status = await runFerryJson<Status>(p.root, ['rollout', id, 'status']);
    expect(status.json.migrationStage).toMatchObject({ name: 'dualwrite', meaning: 'reads old; writes old, then new' });
    expect(status.json.canary).toMatchObject({ percentage: 0, include: { count: 2, first: ['staff-1', 'staff-2'] }, exclude: { count: 1 } });
    const human = await runFerry(p.root, ['rollout', id, 'status']);
    expect(human.stdout).toContain('migration stage: dualwrite (reads old; writes old, then new)');
    expect(human.stdout).toContain('include 2 (staff-1, staff-2); exclude 1 (qa-bot)');
    const events = (await runFerryJson<{ events: { kind: string }[] }>(p.root, ['log', id])).json.events.filter((e) => e.kind === 'stage');
    expect(events).toHaveLength(1);
  });

  it('lists consumers and renders the upgrade guide, to stdout or a file', async () => {
    const { p, id } = project(await suite.fresh());
    const none = await runFerryJson<{ consumers: unknown[]; api: string }>(p.root, ['consumers', id]);
    expect(none.code).toBe(0);
    expect(none.json).toMatchObject({ api: 'people', consumers: [] });
    expect((await runFerry(p.root, ['consumers', id])).stdout).toContain('no calls to an old version recorded');

    const guide = await runFerry(p.root, ['upgrade-guide', id]);
    expect(guide.code).toBe(0);
    expect(guide.stdout).toContain('# Upgrade guide: people v1 → v2');
    expect(guide.stdout).toContain('| `name` | `firstName + lastName` |');
    const out = join(p.root, 'UPGRADING.md');
    const written = await runFerryJson<{ file: string; markdown: string; releasedAt: string | null }>(p.root, [
      'upgrade-guide',
      id,
      '--output',
      'UPGRADING.md',
    ]);
    expect(written.json).toMatchObject({ file: out, releasedAt: null, markdown: guide.stdout });
    expect(readFileSync(out, 'utf8')).toBe(guide.stdout);
  });
});

it('--help of rollout, consumers and upgrade-guide shows examples', async () => {
  const cwd = process.cwd();
  const rollout = await runFerry(cwd, ['rollout', '--help']);
  expect(rollout.code).toBe(0);
  expect(rollout.stdout).toContain('ferry rollout split_full_name stage dualwrite');
  for (const command of ['consumers', 'upgrade-guide']) {
    const r = await runFerry(cwd, [command, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ferry ${command} split_full_name`);
  }
});
