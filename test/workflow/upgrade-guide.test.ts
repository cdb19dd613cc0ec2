import { writeFileSync } from 'node:fs';
import { expect, it } from 'vitest';
import { type Migration, setRolloutPercentage, up, upgradeGuide } from '../../src/index.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';
import { refusalCode } from '../helpers/refusal.js';

/** The seed's adapters: v1 `name` ↔ v2 `firstName`/`lastName`, `email` ↔ `emailAddress`; examples written for v2. */
const MODULE = `
export const adapters = [
  {
    from: 'v1',
    to: 'v2',
    request: (body) => {
      const { name, email, ...rest } = body;
      const [firstName, ...last] = String(name).split(' ');
      return { ...rest, firstName, lastName: last.join(' '), emailAddress: email };
    },
    response: (body) => {
      const { firstName, lastName, emailAddress, ...rest } = body;
      return { ...rest, name: [firstName, lastName].join(' '), email: emailAddress };
    },
  },
];
export const examples = [
  { title: 'Read a user', method: 'GET', path: '/users/7', response: { id: 7, firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' } },
  {
    title: 'Create a user',
    method: 'POST',
    path: '/users',
    status: 201,
    request: { firstName: 'Grace', lastName: 'Hopper', emailAddress: 'grace@example.com' },
    response: { id: 8, firstName: 'Grace', lastName: 'Hopper', emailAddress: 'grace@example.com' },
  },
];
`;

const API = {
  name: 'users',
  versions: [{ version: 'v1' }, { version: 'v2' }],
  guide: 'https://example.com/upgrade/users-v2',
  mapping: [
    { old: 'name', new: 'firstName + lastName', note: 'split at the first space' },
    { old: 'email', new: 'emailAddress' },
  ],
};

function project(target: TestTarget, withModule: boolean) {
  const p = createProject(target);
  const id = p.migration('0001_names', [{ id: 'add', up: 'CREATE TABLE people (id int);', down: 'DROP TABLE people;' }], {
    flag: 'people.names',
    rollout: { stages: [{ percent: 100, hold: '1h' }] },
    api: withModule ? { ...API, module: 'api.ts' } : API,
  });
  if (withModule) writeFileSync(p.file(id, 'api.ts'), MODULE);
  return p;
}

forEachDriver('the upgrade guide', (suite) => {
  it('renders the mapping, the dates as offsets, and both versions of each example from the adapters', async () => {
    const p = project(await suite.fresh(), true);
    const m = (await migrationsOf(p))[0] as Migration;
    const g = await upgradeGuide(null, m);
    expect(g).toMatchObject({ api: 'users', releasedAt: null, module: 'api.ts' });
    const md = g.markdown;
    expect(md).toContain('# Upgrade guide: users v1 → v2');
    expect(md).toContain('| `name` | `firstName + lastName` | split at the first space |');
    expect(md).toContain('| `email` | `emailAddress` |  |');
    expect(md).toContain('T+30 d after the release');
    expect(md).toContain('T+90 d after the release');
    expect(md).toContain('`Accept: application/vnd.users.v2+json`');
    expect(md).toContain('`Api-Version: v2`');
    expect(md).toContain('410 Gone');
    expect(md).toContain('Link: <https://example.com/upgrade/users-v2>; rel="deprecation"');

    const [read, create] = g.examples;
    expect(read?.versions).toEqual([
      { version: 'v1', response: { id: 7, name: 'Ada Lovelace', email: 'ada@example.com' } },
      { version: 'v2', response: { id: 7, firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' } },
    ]);
    // The old request converts back up to the example's request, so it is not shown twice.
    expect(create?.versions[0]).toEqual({
      version: 'v1',
      request: { name: 'Grace Hopper', email: 'grace@example.com' },
      response: { id: 8, name: 'Grace Hopper', email: 'grace@example.com' },
    });
    expect(create?.status).toBe(201);
    expect(md).toContain('**v1** — `POST /v1/users`');
    expect(md).toContain('"name": "Ada Lovelace"');
    expect(md).toContain('"firstName": "Ada"');
  });

  it('resolves the dates from the day the flag reached 100 %; without a module it says there are no examples', async () => {
    const target = await suite.fresh();
    const p = project(target, false);
    const ms = await migrationsOf(p);
    const m = ms[0] as Migration;
    const db = await target.open();
    try {
      expect((await upgradeGuide(db, m)).releasedAt).toBeNull();
      await up(db, ms, testRun);
      await setRolloutPercentage(db, m, 100, { actor: 'guide-test', lockWaitMs: 10_000 });
      const g = await upgradeGuide(db, m);
      const t0 = g.releasedAt as Date;
      expect(t0).toBeInstanceOf(Date);
      const at = (days: number) => `${new Date(t0.getTime() + days * 86_400_000).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
      for (const d of [0, 30, 60, 90]) expect(g.markdown).toContain(at(d));
      expect(g.markdown).toContain(`Deprecation: @${Math.floor(t0.getTime() / 1000)}`);
      expect(g.markdown).toContain(`Sunset: ${new Date(Math.floor((t0.getTime() + 90 * 86_400_000) / 1000) * 1000).toUTCString()}`);
      expect(g.examples).toEqual([]);
      expect(g.markdown).toContain('names no API module');
    } finally {
      await db.close();
    }
  });

  it('is a usage error for a migration without an API section', async () => {
    const p = createProject(await suite.fresh());
    p.migration('0001_plain', [{ id: 'add', up: 'CREATE TABLE t (id int);', down: 'DROP TABLE t;' }], { flag: 'plain' });
    const m = (await migrationsOf(p))[0] as Migration;
    expect(await refusalCode(upgradeGuide(null, m))).toBe('E_USAGE');
  });
});
