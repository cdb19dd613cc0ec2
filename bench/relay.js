// The flag relay of `ferry serve` against LISTEN/NOTIFY: how long a flag change takes to reach a fleet.
// Baseline (measured in this run): 20 SDK clients, each with its own database session LISTENing.
// Relay: 500 SDK clients on `createFlags({ relay })`, following ferry serve's stream (one LISTEN session
// for all of them). Each fleet is one child process that reports when its LAST client has the change;
// the time runs from sending the autocommit UPDATE to that report. Median and max over 10 changes,
// and the relay's median as a ratio of the baseline's.
// Run with `npm run bench` (builds ferry first). FERRY_BENCH_URL picks the server
// (default postgres://postgres@127.0.0.1:5432/test); a throwaway database is made and dropped.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openServer } from '../dist/db/server.js';
import { createFlags } from '../dist/sdk/index.js';
import { startServer } from '../dist/server/index.js';
import { ensureState } from '../dist/state/store.js';
import { fanOut, startReporter } from './reporters.js';
import { SERVER, urlOf } from './server.js';

const LISTENERS = 20;
const RELAY_CLIENTS = 500;
const CHANGES = 10;
const KEY = 'bench-checkout';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Child mode: `count` SDK clients on `source`; prints "ready" once all have a snapshot and "v <version>" once all have that version. */
async function fleet(kind, target, count) {
  const source = kind === 'relay' ? { relay: target } : { url: target };
  const clients = Array.from({ length: count }, () => createFlags(source, { metrics: false }));
  const seen = new Map(); // version → clients that have it
  for (const flags of clients) {
    flags.onChange(() => {
      const v = flags.flag(KEY)?.version;
      const n = (seen.get(v) ?? 0) + 1;
      seen.set(v, n);
      if (n === count) console.log(`v ${v}`);
    });
  }
  await Promise.all(clients.map((f) => f.ready()));
  console.log('ready');
}

function startFleet(kind, target, count) {
  return startReporter(fileURLToPath(import.meta.url), ['--fleet', kind, target, String(count)]);
}

async function main() {
  const name = `ferry_bench_relay_${process.pid}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = urlOf(name);
  const root = mkdtempSync(join(tmpdir(), 'ferry-bench-relay-'));
  const c = new pg.Client({ connectionString: url });
  const fleets = [];
  let server;
  try {
    const db = await openServer({ url });
    await ensureState(db);
    await db.close();
    await c.connect();
    await c.query(`INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, true, 25, 'bench')`, [KEY]);
    for (let i = 0; i < 49; i++) await c.query(`INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, true, 50, 'bench')`, [`other-${i}`]);

    const listen = startFleet('url', url, LISTENERS);
    fleets.push(listen);
    const direct = await fanOut(c, [listen], KEY, CHANGES);
    listen.child.kill('SIGKILL');

    writeFileSync(join(root, 'ferry.config.json'), JSON.stringify({ defaultEnv: 'bench', environments: { bench: { url, requireApproval: false } } }));
    mkdirSync(join(root, 'migrations'));
    server = await startServer({ root, port: 0, token: 'bench-token-0123456789', actor: 'bench' });
    const relay = startFleet('relay', server.url, RELAY_CLIENTS);
    fleets.push(relay);
    const relayed = await fanOut(c, [relay], KEY, CHANGES);

    const line = (what, xs) => `${what}: median ${median(xs).toFixed(1)} ms, max ${Math.max(...xs).toFixed(1)} ms over ${CHANGES} changes`;
    console.log(line(`flag change → ${LISTENERS} SDK clients, one LISTEN session each (LISTEN/NOTIFY, baseline)`, direct));
    console.log(
      `${line(`flag change → ${RELAY_CLIENTS} SDK clients on the flag relay (one LISTEN session, SSE)`, relayed)}; ` +
        `median ${(median(relayed) / median(direct)).toFixed(2)}× the baseline's, max ${(Math.max(...relayed) / Math.max(...direct)).toFixed(2)}× (goal ≤ 1000 ms)`,
    );
  } finally {
    for (const f of fleets) f.child.kill('SIGKILL');
    await server?.close();
    await c.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
    rmSync(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--fleet') await fleet(process.argv[3], process.argv[4], Number(process.argv[5]));
else await main();
