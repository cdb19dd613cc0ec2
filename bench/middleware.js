// The versioned API middleware's overhead per request (ferry/compat; goal ≤ 10 µs for a request that needs no
// adaptation): the same Hono app served in process with `app.request()` (no network), without and with
// `api.hono()`, interleaved in the same run, many requests each; the overhead is the difference of the medians.
// Also a v1 request whose response is converted down by the adapter (name ↔ firstName/lastName, email ↔
// emailAddress), against a plain app that answers the v1 shape itself, and the framework-free core alone.
// Run with `npm run build && node bench/middleware.js` (no database server needed: the flags come from PGlite).
import { Hono } from 'hono';
import { createCompat } from '../dist/compat/index.js';
import { openPglite } from '../dist/db/pglite.js';
import { createFlags } from '../dist/sdk/index.js';

const ROUNDS = 7;
const REQUESTS = 20_000;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const usersAdapter = {
  from: 'v1',
  to: 'v2',
  request: (b) => {
    const { name, email, ...rest } = b;
    const space = name.indexOf(' ');
    return { ...rest, firstName: space < 0 ? name : name.slice(0, space), lastName: space < 0 ? '' : name.slice(space + 1), emailAddress: email };
  },
  response: (b) => {
    const { firstName, lastName, emailAddress, ...rest } = b;
    return { ...rest, name: [firstName, lastName].filter(Boolean).join(' '), email: emailAddress };
  },
};
const v2User = (id) => ({ id, firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com', roles: ['admin'] });
const v1User = (id) => ({ id, roles: ['admin'], name: 'Ada Lovelace', email: 'ada@example.com' });

/** µs per request of `n` sequential in-process requests to `path`, reading each body. */
async function run(app, path, n) {
  const init = { headers: { 'x-api-consumer': 'bench' } };
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const res = await app.request(path, init);
    await res.text();
  }
  return ((performance.now() - start) * 1000) / n;
}

/** Medians over interleaved rounds of each `[name, app, path]`. */
async function compare(cases) {
  for (const [, app, path] of cases) await run(app, path, 5_000); // warm up
  const times = cases.map(() => []);
  for (let r = 0; r < ROUNDS; r++) for (const [i, [, app, path]] of cases.entries()) times[i].push(await run(app, path, REQUESTS));
  return times.map(median);
}

async function main() {
  const db = await openPglite();
  const flags = createFlags({ db }, { metrics: false });
  await flags.ready();
  const compat = createCompat(flags, { flushIntervalMs: 3_600_000, onLog: () => {} });
  const api = compat.api({ api: { name: 'users', versions: [{ version: 'v1' }, { version: 'v2' }] } }, { adapters: [usersAdapter] });

  const plain = new Hono();
  plain.get('/v2/users/:id', (c) => c.json(v2User(c.req.param('id'))));
  plain.get('/v1/users/:id', (c) => c.json(v1User(c.req.param('id'))));
  const noop = new Hono();
  noop.use(async (_c, next) => {
    await next();
  });
  noop.get('/v2/users/:id', (c) => c.json(v2User(c.req.param('id'))));
  const versioned = new Hono();
  versioned.use(api.hono());
  versioned.on('GET', api.paths('/users/:id'), (c) => c.json(v2User(c.req.param('id'))));

  const [bare, withNoop, withMw, bareV1, adapted] = await compare([
    ['plain v2', plain, '/v2/users/7'],
    ['no-op middleware v2', noop, '/v2/users/7'],
    ['middleware v2', versioned, '/v2/users/7'],
    ['plain v1', plain, '/v1/users/7'],
    ['middleware v1 (adapted)', versioned, '/v1/users/7'],
  ]);
  const req = { method: 'GET', url: '/v2/users/7', headers: { 'x-api-consumer': 'bench', accept: 'application/json' } };
  for (let i = 0; i < 200_000; i++) api.decide(req);
  const start = performance.now();
  const n = 1_000_000;
  for (let i = 0; i < n; i++) api.decide(req);
  const core = ((performance.now() - start) * 1000) / n;

  const f = (x) => x.toFixed(2);
  console.log(`versioned API middleware (Hono app.request, in process, median of ${ROUNDS} × ${REQUESTS} requests)`);
  console.log(`  v2, no adaptation: ${f(bare)} µs without, ${f(withMw)} µs with the middleware`);
  console.log(`    overhead ${f(withMw - bare)} µs per request (goal ≤ 10 µs), ratio ${(withMw / bare).toFixed(2)}×`);
  console.log(`    (an empty Hono middleware alone costs ${f(withNoop - bare)} µs: the rest, ${f(withMw - withNoop)} µs, is ferry's)`);
  console.log(`  v1, response adapted: ${f(bareV1)} µs for a plain v1 route, ${f(adapted)} µs through the adapter`);
  console.log(`    overhead ${f(adapted - bareV1)} µs per request, ratio ${(adapted / bareV1).toFixed(2)}×`);
  console.log(`  the core alone (decide: select, consumer, count): ${f(core)} µs per request`);
  console.log(`  calls counted: ${api.pendingCalls().reduce((s, c) => s + c.calls, 0)}`);
  await compat.close();
  await flags.close();
  await db.close();
}

await main();
