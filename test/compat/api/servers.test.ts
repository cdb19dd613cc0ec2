import { parseItem } from 'structured-headers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { VersionedApi } from '../../../src/compat/api/core.js';
import { type Compat, createCompat } from '../../../src/compat/index.js';
import type { Database } from '../../../src/db/database.js';
import { openPglite } from '../../../src/db/pglite.js';
import { createFlags, type Flags } from '../../../src/sdk/index.js';
import { ensureState } from '../../../src/state/store.js';
import { setFlag } from '../../helpers/flags.js';
import { until } from '../../helpers/process.js';
import { type AppServer, FRAMEWORKS, type Framework, startApp } from './harness.js';
import { usersModule } from './users-adapter.js';

const FLAG = 'split-name';
const RELEASE = new Date('2026-03-01T00:00:00Z');
const DAY = 86_400_000;
const HOUR = 3_600_000;
const PARTNER_UNTIL = new Date('2026-07-01T00:00:00Z'); // T+122 d
const GUIDE = 'https://example.com/guides/users-v2';
const API = {
  name: 'users',
  versions: [{ version: 'v1' }, { version: 'v2' }],
  guide: GUIDE,
  allow: [{ consumer: 'partner', version: 'v1', until: PARTNER_UNTIL.toISOString() }],
};
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

let db: Database;
let flags: Flags;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  db = await openPglite();
  await ensureState(db);
  await setFlag(db, FLAG, true, 100);
  await db.query('UPDATE ferry.flags SET full_at = $1 WHERE key = $2', [RELEASE.toISOString(), FLAG]);
  flags = createFlags({ db }, { pollIntervalMs: 50, metrics: false });
  await flags.ready();
  await until('the flags client to read full_at', () => flags.flag(FLAG)?.fullAt?.getTime() === RELEASE.getTime());
});

afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
  await flags?.close();
  await db?.close();
});

interface Setup {
  app: AppServer;
  api: VersionedApi;
  compat: Compat;
  logs: { message: string; details: Record<string, unknown> }[];
  setClock: (at: Date) => void;
  get: (path: string, headers?: Record<string, string>) => Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
  post: (path: string, body: unknown, headers?: Record<string, string>) => Promise<{ status: number; headers: Headers; body: Record<string, unknown> }>;
}

async function setup(kind: Framework): Promise<Setup> {
  let clock = RELEASE;
  const logs: Setup['logs'] = [];
  const compat = createCompat(flags, { now: () => clock, onLog: (message, details) => logs.push({ message, details }), flushIntervalMs: 3_600_000 });
  const api = compat.api({ api: API, flag: FLAG }, { adapters: usersModule });
  const app = await startApp(kind, api);
  cleanups.push(
    () => app.close(),
    () => compat.close(),
  );
  const call = async (method: string, path: string, body: unknown, headers: Record<string, string>) => {
    const res = await fetch(`${app.url}${path}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
  };
  return {
    app,
    api,
    compat,
    logs,
    setClock: (at) => {
      clock = at;
    },
    get: (path, headers = {}) => call('GET', path, undefined, headers),
    post: (path, body, headers = {}) => call('POST', path, body, headers),
  };
}

const V1_USER = { id: '7', name: 'Ada Lovelace', email: 'ada@example.com', asked: 'v1' };
const V2_USER = { id: '7', firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com', asked: 'v2' };

describe.each(FRAMEWORKS)('versioned API on a real %s server', (kind) => {
  let s: Setup;
  beforeAll(async () => {
    s = await setup(kind);
  });

  it('selects the version by path prefix, media type, header, else the default (the oldest)', async () => {
    s.setClock(RELEASE);
    const v1 = await s.get('/v1/users/7');
    expect(v1).toMatchObject({ status: 200, body: V1_USER });
    expect(v1.headers.get('api-version')).toBe('v1');
    const v2 = await s.get('/v2/users/7');
    expect(v2).toMatchObject({ status: 200, body: V2_USER });
    expect(v2.headers.get('api-version')).toBe('v2');

    const byMedia = await s.get('/users/7', { accept: 'application/vnd.users.v2+json' });
    expect(byMedia).toMatchObject({ status: 200, body: V2_USER });
    expect(byMedia.headers.get('vary')).toMatch(/Accept/);
    expect(await s.get('/users/7', { accept: 'application/vnd.users.v1+json' })).toMatchObject({ status: 200, body: V1_USER });
    const byHeader = await s.get('/users/7', { 'api-version': 'v2' });
    expect(byHeader).toMatchObject({ status: 200, body: V2_USER });
    expect(byHeader.headers.get('vary')).toMatch(/Api-Version/);
    // The path wins over the media type, which wins over the header.
    expect((await s.get('/v2/users/7', { accept: 'application/vnd.users.v1+json', 'api-version': 'v1' })).body).toEqual(V2_USER);
    expect((await s.get('/users/7', { accept: 'application/vnd.users.v2+json', 'api-version': 'v1' })).body).toEqual(V2_USER);

    const byDefault = await s.get('/users/7');
    expect(byDefault).toMatchObject({ status: 200, body: V1_USER });
    expect(byDefault.headers.get('api-version')).toBe('v1');
  });

  it('answers 400 problem+json for a version the API does not have, without running the handler', async () => {
    const before = s.app.ran();
    for (const [path, headers, requested] of [
      ['/v9/users/7', {}, 'v9'],
      ['/users/7', { accept: 'application/vnd.users.v7+json' }, 'v7'],
      ['/users/7', { 'api-version': 'v3' }, 'v3'],
    ] as const) {
      const res = await s.get(path, headers);
      expect(res.status).toBe(400);
      expect(res.headers.get('content-type')).toMatch(/^application\/problem\+json/);
      expect(res.body).toMatchObject({ status: 400, title: 'Unknown API version', versions: ['v1', 'v2'], current: 'v2', requested });
      expect(typeof res.body.type).toBe('string');
      expect(res.body.detail).toContain(requested);
      expect(res.body.hint).toContain('v2');
    }
    expect(s.app.ran()).toBe(before);
  });

  it('converts a v1 request body up for the v2 handler and its response back down', async () => {
    const v1 = await s.post('/v1/users', { name: 'Grace Brewster Hopper', email: 'grace@example.com' });
    expect(v1.status).toBe(201);
    expect(v1.body).toEqual({ id: 1, name: 'Grace Brewster Hopper', email: 'grace@example.com', saw: ['emailAddress', 'firstName', 'lastName'] });
    const v2 = await s.post('/v2/users', { firstName: 'Grace', lastName: 'Hopper', emailAddress: 'grace@example.com' });
    expect(v2.body).toEqual({
      id: 1,
      firstName: 'Grace',
      lastName: 'Hopper',
      emailAddress: 'grace@example.com',
      saw: ['emailAddress', 'firstName', 'lastName'],
    });
    // The API's own media type as the request's Content-Type names the version and is parsed as JSON.
    const typed = await s.post('/users', { name: 'Alan Turing', email: 'alan@example.com' }, { 'content-type': 'application/vnd.users.v1+json' });
    expect(typed.body).toEqual({ id: 1, name: 'Alan Turing', email: 'alan@example.com', saw: ['emailAddress', 'firstName', 'lastName'] });
  });

  it('follows the deprecation timeline: T+0 and T+30 no headers, one log per consumer per hour from T+30, headers from T+60, 410 from T+90', async () => {
    s.setClock(new Date(RELEASE.getTime() + DAY));
    const atStart = await s.get('/v1/users/7', { 'x-api-consumer': 'billing' });
    expect(atStart.status).toBe(200);
    expect(atStart.headers.get('deprecation')).toBeNull();
    expect(atStart.headers.get('sunset')).toBeNull();
    expect(s.logs).toHaveLength(0);

    s.setClock(new Date(RELEASE.getTime() + 30 * DAY));
    for (let i = 0; i < 5; i++) {
      for (const consumer of ['billing', 'crm']) {
        const r = await s.get('/v1/users/7', { 'x-api-consumer': consumer });
        expect(r.status).toBe(200);
        expect(r.headers.get('deprecation')).toBeNull();
      }
    }
    await s.get('/v2/users/7', { 'x-api-consumer': 'billing' }); // the newest version never logs
    expect(s.logs.map((l) => l.details.consumer).sort()).toEqual(['billing', 'crm']);
    expect(s.logs[0]?.details).toMatchObject({ api: 'users', version: 'v1', state: 'logging' });
    s.setClock(new Date(RELEASE.getTime() + 30 * DAY + 59 * 60_000));
    await s.get('/v1/users/7', { 'x-api-consumer': 'billing' });
    expect(s.logs).toHaveLength(2);
    s.setClock(new Date(RELEASE.getTime() + 30 * DAY + HOUR));
    await s.get('/v1/users/7', { 'x-api-consumer': 'billing' });
    await s.get('/v1/users/7', { 'x-api-consumer': 'billing' });
    expect(s.logs).toHaveLength(3);

    s.setClock(new Date(RELEASE.getTime() + 60 * DAY));
    const warned = await s.get('/v1/users/7', { 'x-api-consumer': 'billing' });
    expect(warned).toMatchObject({ status: 200, body: V1_USER });
    const deprecation = warned.headers.get('deprecation') as string;
    expect(deprecation).toBe(`@${RELEASE.getTime() / 1000}`);
    expect(parseItem(deprecation)[0]).toEqual(RELEASE);
    const sunset = warned.headers.get('sunset') as string;
    expect(sunset).toMatch(IMF_FIXDATE);
    expect(new Date(sunset).getTime()).toBe(RELEASE.getTime() + 90 * DAY);
    expect(warned.headers.get('link')).toBe(`<${GUIDE}>; rel="deprecation", <${GUIDE}>; rel="sunset"`);
    const current = await s.get('/v2/users/7', { 'x-api-consumer': 'billing' });
    expect(current.headers.get('deprecation')).toBeNull();
    expect(current.headers.get('sunset')).toBeNull();

    s.setClock(new Date(RELEASE.getTime() + 90 * DAY));
    const ran = s.app.ran();
    const gone = await s.get('/v1/users/7', { 'x-api-consumer': 'billing' });
    expect(gone.status).toBe(410);
    expect(gone.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(gone.body).toMatchObject({ status: 410, title: 'API version gone', version: 'v1', current: 'v2', guide: GUIDE });
    expect(gone.body.hint).toContain(GUIDE);
    expect(gone.headers.get('link')).toContain(`<${GUIDE}>; rel="sunset"`);
    const goneBody = await s.post('/v1/users', { name: 'Grace Hopper', email: 'g@example.com' }, { 'x-api-consumer': 'billing' });
    expect(goneBody.status).toBe(410);
    expect(s.app.ran()).toBe(ran);
    expect((await s.get('/v2/users/7', { 'x-api-consumer': 'billing' })).status).toBe(200);
    expect(s.logs.at(-1)?.details).toMatchObject({ consumer: 'billing', state: 'disabled' });
  });

  it('keeps an allow-listed partner on v1 after T+90 until its date, with its own Sunset', async () => {
    s.setClock(new Date(RELEASE.getTime() + 100 * DAY));
    const partner = await s.get('/v1/users/7', { 'x-api-consumer': 'partner' });
    expect(partner).toMatchObject({ status: 200, body: V1_USER });
    expect(partner.headers.get('sunset')).toBe(PARTNER_UNTIL.toUTCString());
    expect(partner.headers.get('deprecation')).toBe(`@${RELEASE.getTime() / 1000}`);
    expect((await s.get('/v1/users/7', { 'x-api-consumer': 'someone-else' })).status).toBe(410);

    s.setClock(PARTNER_UNTIL);
    expect((await s.get('/v1/users/7', { 'x-api-consumer': 'partner' })).status).toBe(410);
  });

  it('counts every call, 410s included, per version and consumer', async () => {
    const counted = s.api.pendingCalls();
    const billingV1 = counted.find((c) => c.version === 'v1' && c.consumer === 'billing');
    // 1 at T+1d, 5 at T+30, 3 more in that hour and the next, 1 at T+60, 2 at T+90 (both 410).
    expect(billingV1?.calls).toBe(12);
    expect(counted.find((c) => c.version === 'v2' && c.consumer === 'billing')?.calls).toBe(3);
    expect(counted.find((c) => c.version === 'v1' && c.consumer === 'partner')?.calls).toBe(2);
  });
});
