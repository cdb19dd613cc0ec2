// Online backfill on 1,000,000 rows, on a PostgreSQL server, in one run: the
// batched backfill (ferry's engine, built in dist/) next to one set-based UPDATE
// on identical fresh data, and the p99 latency of a concurrent single-row UPDATE
// load (8 connections, an unrelated column of random rows) with no backfill,
// during the set-based UPDATE and during the batched backfill. Throughput is
// measured without the load; each latency phase runs its own fresh table.
// Run with `npm run bench` (builds ferry first).
// FERRY_BENCH_URL picks the server (default postgres://postgres@127.0.0.1:5432/test),
// FERRY_BENCH_ROWS the table size, FERRY_BENCH_LOAD_RATE the updates per second of
// each load connection (default 100; 0 = as fast as it can).
import { randomBytes } from 'node:crypto';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pg from 'pg';

const SERVER = process.env.FERRY_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const ROWS = Number(process.env.FERRY_BENCH_ROWS ?? 1_000_000);
const LOAD_CONNECTIONS = 8;
const LOAD_RATE = Number(process.env.FERRY_BENCH_LOAD_RATE ?? 100);
const BASELINE_MS = 5000;
const urlOf = (db) => Object.assign(new URL(SERVER), { pathname: `/${db}` }).toString();

const SET = { first_name: "split_part(full_name, ' ', 1)", last_name: "split_part(full_name, ' ', 2)" };
const WHERE = 'first_name IS NULL';

/**
 * The load, in a worker thread so its timings do not share an event loop with
 * the engine: each connection updates a random row's `visits` in a loop (paced
 * to LOAD_RATE per second) until told to stop, then posts its latencies in ms.
 */
async function runLoad({ url, rows, rate }) {
  let stopping = false;
  parentPort.on('message', (m) => {
    if (m === 'stop') stopping = true;
  });
  const clients = await Promise.all(
    Array.from({ length: LOAD_CONNECTIONS }, async () => {
      const c = new pg.Client({ connectionString: url, application_name: 'ferry bench load' });
      await c.connect();
      return c;
    }),
  );
  parentPort.postMessage({ ready: true });
  const latencies = [];
  const interval = rate > 0 ? 1000 / rate : 0;
  const loop = async (c) => {
    let next = performance.now();
    while (!stopping) {
      const id = 1 + Math.floor(Math.random() * rows);
      const t0 = process.hrtime.bigint();
      await c.query({ name: 'visit', text: 'UPDATE users SET visits = visits + 1 WHERE id = $1', values: [id] });
      latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      else next = performance.now();
    }
  };
  await Promise.all(clients.map(loop));
  await Promise.all(clients.map((c) => c.end()));
  parentPort.postMessage({ latencies });
}

/** Load workers still running, ended on failure. */
const workers = new Set();

/** Start the load; resolves once its connections are open, to a function that stops it and returns its latencies. */
async function startLoad(url) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { url, rows: ROWS, rate: LOAD_RATE } });
  workers.add(worker);
  worker.on('exit', () => workers.delete(worker));
  const done = new Promise((ok, fail) => {
    worker.on('message', (m) => m.latencies && ok(m.latencies));
    worker.on('error', fail);
    worker.on('exit', (code) => code !== 0 && fail(new Error(`load worker exited with ${code}`)));
  });
  await new Promise((ok, fail) => {
    worker.once('message', ok);
    worker.once('error', fail);
  });
  const started = performance.now();
  return async () => {
    worker.postMessage('stop');
    const latencies = await done;
    return { latencies, seconds: (performance.now() - started) / 1000 };
  };
}

/** Percentiles of a latency sample (sorted copy; fine for a bench). */
function histogram({ latencies, seconds }) {
  const s = Float64Array.from(latencies).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { n: s.length, rate: s.length / seconds, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s[s.length - 1] ?? Number.NaN };
}

const fmtLoad = (h) =>
  `${h.n} updates (${Math.round(h.rate)}/s): p50 ${h.p50.toFixed(2)} ms, p99 ${h.p99.toFixed(2)} ms, p99.9 ${h.p999.toFixed(2)} ms, max ${h.max.toFixed(1)} ms`;
const mib = (bytes) => `${(bytes / 1048576).toFixed(1)} MiB`;
const fmtRate = (n) => `${Math.round(n).toLocaleString('en-US')} rows/s`;

async function main() {
  // The built engine and driver; `npm run bench` builds them first.
  const { runBackfill, backfillStepSchema } = await import('../dist/backfill/index.js');
  const { openServer } = await import('../dist/db/server.js');
  const { ensureState } = await import('../dist/state/store.js');

  const dbName = `ferry_backfill_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  const url = urlOf(dbName);
  let db;
  let runs = 0;
  let exitCode = 0;

  /** A fresh `users` table of ROWS rows, vacuumed and analysed, after a checkpoint, so every phase starts alike. */
  const freshUsers = async () => {
    await db.exec(`DROP TABLE IF EXISTS users;
      CREATE TABLE users (id bigint PRIMARY KEY, full_name text NOT NULL, first_name text, last_name text, visits int NOT NULL DEFAULT 0);
      INSERT INTO users (id, full_name) SELECT g, 'First' || g || ' Last' || (g % 97) FROM generate_series(1, ${ROWS}) g;`);
    await db.exec('VACUUM (ANALYZE) users');
    await db.exec('CHECKPOINT');
  };
  const checkFilled = async () => {
    const { rows } = await db.query(`SELECT count(*)::int AS n FROM users WHERE ${WHERE} OR last_name IS DISTINCT FROM split_part(full_name, ' ', 2)`);
    if (rows[0].n !== 0) throw new Error(`${rows[0].n} rows not filled`);
  };
  const walLsn = async () => (await db.query('SELECT pg_current_wal_lsn()::text AS l')).rows[0].l;
  const walSince = async (lsn) => Number((await db.query('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn)::float8 AS d', [lsn])).rows[0].d);
  const setBased = async () => {
    const wal0 = await walLsn();
    const t0 = performance.now();
    const assignments = Object.entries(SET).map(([c, e]) => `${c} = ${e}`);
    const r = await db.query(`UPDATE users SET ${assignments.join(', ')} WHERE ${WHERE}`);
    const seconds = (performance.now() - t0) / 1000;
    const wal = await walSince(wal0);
    await checkFilled();
    return { rows: r.affectedRows, seconds, rate: r.affectedRows / seconds, wal: wal / seconds };
  };
  const batched = async (sleepRatio, targetBatchMs = 200) => {
    const spec = backfillStepSchema.parse({ id: 'split-name', kind: 'backfill', table: 'users', set: SET, where: WHERE, sleepRatio, targetBatchMs });
    const target = { migrationId: `0001_bench_${++runs}`, stepId: spec.id, spec };
    const throttles = new Map();
    // Progress comes at most every 250 ms: a sample of the throttle reasons, by signal.
    const onProgress = (x) => {
      const signal = x.throttledBy?.replace(/\s*[\d.]+.*$/, '');
      if (signal) throttles.set(signal, (throttles.get(signal) ?? 0) + 1);
    };
    const wal0 = await walLsn();
    const t0 = performance.now();
    const p = await runBackfill(db, target, { lockTimeoutMs: 2000, onProgress });
    const seconds = (performance.now() - t0) / 1000;
    if (p.state !== 'done') throw new Error(`backfill ended ${p.state}`);
    await checkFilled();
    const wal = await walSince(wal0);
    return { rows: p.rowsDone, seconds, rate: p.rowsDone / seconds, progress: p, wal: wal / seconds, throttles };
  };
  const fmtBatched = (b) =>
    `${b.rows} rows in ${b.seconds.toFixed(2)} s = ${fmtRate(b.rate)} (${b.progress.batches} batches, last size ${b.progress.batchSize}, ` +
    `longest ${b.progress.longestBatchMs.toFixed(0)} ms, ${b.progress.retries} retries, WAL ${mib(b.wal)}/s` +
    `${b.throttles.size ? `; progress lines throttled by: ${[...b.throttles].map(([k, n]) => `${k} ×${n}`).join(', ')}` : ''})`;

  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
    db = await openServer({ url, applicationName: 'ferry bench backfill' });
    await ensureState(db);
    console.log(`backfill bench: ${ROWS.toLocaleString('en-US')} rows, set ${Object.keys(SET).join(', ')} where ${WHERE}`);

    // Throughput, no load.
    await freshUsers();
    const set = await setBased();
    console.log(`set-based UPDATE:             ${set.rows} rows in ${set.seconds.toFixed(2)} s = ${fmtRate(set.rate)} (WAL ${mib(set.wal)}/s)`);
    await freshUsers();
    const def = await batched(0.2);
    console.log(`batched (target 200 ms, sleepRatio 0.2): ${fmtBatched(def)}`);
    await freshUsers();
    const fast = await batched(0);
    console.log(`batched (target 200 ms, sleepRatio 0):   ${fmtBatched(fast)}`);

    // Latency of the concurrent load.
    await freshUsers();
    let stop = await startLoad(url);
    await new Promise((r) => setTimeout(r, BASELINE_MS));
    const base = histogram(await stop());
    console.log(`load, no backfill (${BASELINE_MS / 1000} s):        ${fmtLoad(base)}`);
    await freshUsers();
    stop = await startLoad(url);
    const setLoaded = await setBased();
    const duringSet = histogram(await stop());
    console.log(`load during set-based UPDATE:  ${fmtLoad(duringSet)} (UPDATE ${setLoaded.seconds.toFixed(2)} s)`);
    await freshUsers();
    stop = await startLoad(url);
    const defLoaded = await batched(0.2);
    const duringBatched = histogram(await stop());
    console.log(`load during batched backfill:  ${fmtLoad(duringBatched)}`);
    console.log(`  (batched under load: ${fmtBatched(defLoaded)})`);
    // Not the default: shorter batches lock fewer rows at a time, for the trade-off between throughput and the load's p99.
    await freshUsers();
    stop = await startLoad(url);
    const shortLoaded = await batched(0.2, 50);
    const duringShort = histogram(await stop());
    console.log(`load during batched, target 50 ms: ${fmtLoad(duringShort)}`);
    console.log(`  (batched target 50 ms under load: ${fmtBatched(shortLoaded)})`);

    const pct = (a, b) => `${a >= b ? '+' : ''}${((100 * (a - b)) / b).toFixed(1)} %`;
    console.log('---');
    console.log(`throughput batched ÷ set-based, sleepRatio 0.2: ${(def.rate / set.rate).toFixed(2)} (goal ≥ 0.6)`);
    console.log(`throughput batched ÷ set-based, sleepRatio 0:   ${(fast.rate / set.rate).toFixed(2)}`);
    console.log(
      `longest batch (sleepRatio 0.2): ${def.progress.longestBatchMs.toFixed(0)} ms (target ${200} ms); under load: ${defLoaded.progress.longestBatchMs.toFixed(0)} ms`,
    );
    console.log(
      `load p99: no backfill ${base.p99.toFixed(2)} ms, during set-based ${duringSet.p99.toFixed(2)} ms, during batched ${duringBatched.p99.toFixed(2)} ms`,
    );
    console.log(
      `load p99 during batched ÷ no backfill:   ${(duringBatched.p99 / base.p99).toFixed(2)}× (${pct(duringBatched.p99, base.p99)}; goal within +10 %)`,
    );
    console.log(`load p99 during set-based ÷ no backfill: ${(duringSet.p99 / base.p99).toFixed(2)}× (${pct(duringSet.p99, base.p99)})`);
    console.log(
      `not default — target 50 ms: load p99 ${duringShort.p99.toFixed(2)} ms = ${pct(duringShort.p99, base.p99)} over no backfill, ` +
        `at ${fmtRate(shortLoaded.rate)} under load (${(shortLoaded.rate / set.rate).toFixed(2)} of set-based unloaded); default under load: ${fmtRate(defLoaded.rate)}`,
    );
  } catch (err) {
    console.error(`bench failed: ${err instanceof Error ? err.stack : err}`);
    exitCode = 1;
  } finally {
    await Promise.all([...workers].map((w) => w.terminate()));
    await db?.close();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch((err) => console.error(`could not drop ${dbName}: ${err.message}`));
    await admin.end();
  }
  process.exitCode = exitCode;
}

if (!isMainThread) {
  await runLoad(workerData);
} else {
  await main();
}
