// The application SDK on a PostgreSQL server: evaluations per second on one core
// (a warm loop over many distinct units; goal ≥ 10,000,000/s), and how long a flag
// change takes to reach 20 subscriber processes (from sending the autocommit UPDATE
// to the last child's report, median of several changes; goal ≤ 1 s).
// Run with `npm run bench` (builds ferry first). FERRY_BENCH_URL picks the server
// (default postgres://postgres@127.0.0.1:5432/test); a throwaway database is made and dropped.
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { openServer } from '../dist/db/server.js';
import { createFlags } from '../dist/sdk/index.js';
import { ensureState } from '../dist/state/store.js';
import { fanOut, startReporter } from './reporters.js';
import { SERVER, urlOf } from './server.js';

const SUBSCRIBERS = 20;
const CHANGES = 7;
const UNITS = 1_000_000;
const KEY = 'bench-checkout';
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Child mode: one application process that prints "v <version>" each time it sees the flag change. */
async function subscriber(url) {
  const flags = createFlags({ url });
  flags.onChange(() => console.log(`v ${flags.flag(KEY)?.version}`));
  await flags.ready();
  console.log(`ready ${flags.flag(KEY)?.version}`);
}

/** Evaluations per second of `isEnabled` over many distinct units, best and median of 5 one-second runs. */
function evalRate(flags) {
  const units = Array.from({ length: UNITS }, (_, i) => `user-${(i * 7919) % 100_000_007}`);
  let on = 0;
  for (let i = 0; i < 20_000_000; i++) if (flags.isEnabled(KEY, units[i % UNITS])) on++; // warm up
  const rates = [];
  for (let run = 0; run < 5; run++) {
    let n = 0;
    const start = performance.now();
    let elapsed = 0;
    do {
      for (let i = 0; i < 1_000_000; i++) if (flags.isEnabled(KEY, units[(n + i) % UNITS])) on++;
      n += 1_000_000;
      elapsed = performance.now() - start;
    } while (elapsed < 1000);
    rates.push((n / elapsed) * 1000);
  }
  return { best: Math.max(...rates), median: median(rates), share: on };
}

function startSubscriber(url) {
  return startReporter(fileURLToPath(import.meta.url), ['--subscriber', url]);
}

async function main() {
  const name = `ferry_bench_sdk_${process.pid}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = urlOf(name);
  const children = [];
  let flags;
  const c = new pg.Client({ connectionString: url });
  try {
    const db = await openServer({ url });
    await ensureState(db);
    await db.close();
    await c.connect();
    await c.query(`INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, true, 25, 'bench')`, [KEY]);
    for (let i = 0; i < 49; i++) await c.query(`INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, true, 50, 'bench')`, [`other-${i}`]);

    flags = createFlags({ url });
    await flags.ready();
    const rate = evalRate(flags);
    console.log(
      `SDK isEnabled, one core, ${UNITS.toLocaleString('en-US')} distinct units, 50 flags: ${(rate.best / 1e6).toFixed(1)} M evals/s best, ${(rate.median / 1e6).toFixed(1)} M evals/s median (goal ≥ 10 M/s)`,
    );

    for (let i = 0; i < SUBSCRIBERS; i++) children.push(startSubscriber(url));
    const latencies = await fanOut(c, children, KEY, CHANGES);
    console.log(
      `flag change → ${SUBSCRIBERS} subscriber processes (LISTEN/NOTIFY): median ${median(latencies).toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms over ${CHANGES} changes (goal ≤ 1000 ms)`,
    );
  } finally {
    for (const s of children) s.child.kill('SIGKILL');
    await flags?.close();
    await c.end().catch(() => {});
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

if (process.argv[2] === '--subscriber') await subscriber(process.argv[3]);
else await main();
