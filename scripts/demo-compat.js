// The demo's application and API side (ferry/compat), on the split_full_name migration at 100 %:
// a shadow read comparing the new first/last-name path with full_name, and the users API in two
// versions over one handler (written against v2; the adapter serves v1), on a real HTTP server.
// The deprecation timeline counts from the day the flag reached 100 %; the demo's clock is set to
// T+61 d and T+91 d to show the headers of a v1 call and then its 410.
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
import { createCompat } from '../dist/compat/index.js';
import { createFlags } from '../dist/sdk/index.js';

const DAY = 86_400_000;

/** Run the compat part of the demo on `db` (PGlite, split_full_name rolled out); `manifest` is its migration.json, `usersApi` its api module. */
export async function compatDemo({ db, manifest, usersApi, log = console.log }) {
  const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 200 });
  await flags.ready();
  const fullAt = flags.flag(manifest.flag)?.fullAt;
  if (!fullAt) throw new Error(`flag ${manifest.flag} has not reached 100 % (no full_at)`);
  let clock = new Date();
  const compat = createCompat(flags, { now: () => clock, onLog: (message) => log(`  app log: ${message}`) });

  // A shadow read: the control is today's path (full_name), the candidate the new one (first/last name).
  const readName = (shape) => async (id) =>
    (await db.query(`SELECT ${shape === 'old' ? 'full_name' : "concat_ws(' ', first_name, last_name)"} AS name FROM users WHERE id = $1`, [id])).rows[0]
      ?.name ?? null;
  const reads = 400;
  for (let id = 1; id <= reads; id++) {
    await compat.shadow(manifest.flag, `user-${id}`, { control: () => readName('old')(id), candidate: () => readName('new')(id) });
  }
  // The last candidates may still be running beside their (already returned) controls.
  await new Promise((resolve) => setTimeout(resolve, 300));
  await compat.flush();
  const { rows } = await db.query(
    `SELECT sum(comparisons)::int AS comparisons, sum(mismatches)::int AS mismatches, sum(candidate_errors)::int AS errors
       FROM ferry.metrics WHERE flag_key = $1`,
    [manifest.flag],
  );
  const m = rows[0];
  log(`  shadow read of ${reads} users: ${m.comparisons} compared, ${m.mismatches} differed, ${m.errors} candidate errors (counted in ferry.metrics)`);
  if (m.comparisons !== reads || m.mismatches !== 0) throw new Error('the shadow read should compare every user and find no difference');

  // The users API: one handler against v2, served as v1 by the adapter.
  const api = compat.api(manifest, { adapters: usersApi });
  const app = new Hono();
  app.use(api.hono());
  app.on('GET', api.paths('/users/:id'), async (c) => {
    const { rows: found } = await db.query('SELECT id, first_name, last_name, email FROM users WHERE id = $1', [Number(c.req.param('id'))]);
    const u = found[0];
    if (!u) return c.json({ error: 'no such user' }, 404);
    return c.json({ id: Number(u.id), firstName: u.first_name, lastName: u.last_name, emailAddress: u.email });
  });
  const server = await new Promise((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, () => resolve(s));
  });
  const base = `http://127.0.0.1:${server.address().port}`;
  const call = async (path, consumer) => {
    const r = await fetch(`${base}${path}`, { headers: { 'x-api-consumer': consumer } });
    const pick = ['api-version', 'deprecation', 'sunset', 'link'].filter((h) => r.headers.has(h)).map((h) => `${h}: ${r.headers.get(h)}`);
    return { status: r.status, headers: pick, body: await r.json() };
  };
  const show = (label, r) => {
    log(`  ${label} → ${r.status}`);
    for (const h of r.headers) log(`      ${h}`);
    log(`      ${JSON.stringify(r.body)}`);
  };
  try {
    clock = new Date(fullAt.getTime() + DAY);
    show('T+1 d   GET /v2/users/42', await call('/v2/users/42', 'web-app'));
    show('T+1 d   GET /v1/users/42', await call('/v1/users/42', 'mobile-app'));
    clock = new Date(fullAt.getTime() + 61 * DAY);
    const warned = await call('/v1/users/42', 'mobile-app');
    show('T+61 d  GET /v1/users/42', warned);
    if (!warned.headers.some((h) => h.startsWith('deprecation: @'))) throw new Error('a v1 call at T+61 d should carry a Deprecation header');
    clock = new Date(fullAt.getTime() + 91 * DAY);
    const gone = await call('/v1/users/42', 'mobile-app');
    show('T+91 d  GET /v1/users/42', gone);
    if (gone.status !== 410) throw new Error(`a v1 call at T+91 d should be 410 Gone, was ${gone.status}`);
  } finally {
    await new Promise((resolve) => server.close(resolve));
    await compat.close();
    await flags.close();
  }
}
