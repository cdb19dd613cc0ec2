import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { TestTarget } from '../helpers/databases.js';
import { createProject, runFerry, type TestProject } from '../helpers/project.js';

/** The split migration's id in these tests. */
export const SPLIT = '0002_split_full_name';

/** users(id, full_name) with `users` rows (500), then split_full_name done with operations, a check, a 1 s stage schedule and a plan. */
export function splitProject(p: TestProject, plan: Record<string, unknown> = {}, users = 500): void {
  p.migration('0001_users', [
    {
      id: 'create-users',
      up: `CREATE TABLE users (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, full_name text NOT NULL);
           INSERT INTO users (full_name) SELECT 'Person ' || g FROM generate_series(1, ${users - 1}) g;
           INSERT INTO users (full_name) VALUES ('Zoë Brontë');`,
      down: 'DROP TABLE users;',
    },
  ]);
  const dir = join(p.root, 'migrations', SPLIT);
  mkdirSync(dir);
  writeFileSync(join(dir, 'migration.json'), JSON.stringify(splitManifest(plan), null, 2));
}

/** The split migration's manifest. */
export function splitManifest(plan: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    title: 'split full_name',
    summary: 'first_name and last_name beside full_name; full_name goes at cleanup',
    type: 'data-format',
    strategy: 'incremental',
    flag: 'split-names',
    rollout: {
      stages: [
        { percent: 50, hold: '1s' },
        { percent: 100, hold: '1s' },
      ],
    },
    plan: {
      scope: { systems: ['accounts API'], users: 'every signed-in user' },
      risks: [{ risk: 'slow backfill', likelihood: 'low', impact: 'medium', mitigation: 'batches' }],
      successCriteria: [{ text: 'names split for every user', proof: 'no-data-errors' }, 'support is quiet'],
      approvals: ['Tech Lead', 'Product Owner'],
      deprecationPeriod: '30d',
      ...plan,
    },
    steps: [
      {
        id: 'split-name',
        kind: 'op',
        op: 'split-column',
        table: 'users',
        column: 'full_name',
        into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
        merge: "first_name || ' ' || last_name",
      },
    ],
    checks: [
      {
        name: 'names-match',
        kind: 'checksum',
        source: { table: 'users' },
        target: { table: 'users' },
        key: ['id'],
        columns: [{ name: 'first_name', source: "split_part(full_name, ' ', 1)", target: 'first_name' }],
      },
    ],
  };
}

async function ferryOk(p: TestProject, args: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** A project with the split migration taken through the CLI to verified: up, rollout to 100 %, the 100 % hold judged, verify --full. */
export async function verifiedSplit(target: TestTarget): Promise<TestProject> {
  const p = createProject(target);
  splitProject(p);
  await ferryOk(p, ['up']);
  await ferryOk(p, ['rollout', SPLIT, 'set', '50']);
  await ferryOk(p, ['rollout', SPLIT, 'advance', '--now', '--reason', 'test']);
  // 100 % becomes rolled-out once its hold (1 s) has passed and been judged.
  await new Promise((r) => setTimeout(r, 1100));
  await ferryOk(p, ['rollout', SPLIT, 'advance']);
  expect(await ferryOk(p, ['verify', SPLIT, '--full'])).toContain('rolled-out → verified');
  return p;
}
