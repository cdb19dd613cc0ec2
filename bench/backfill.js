// Online backfill on FERRY_BENCH_ROWS rows (default 1,000,000), on a PostgreSQL server, in one run:
// ferry's default backfill (built in dist/: paced by its measured impact, budget
// p99 +10 %) next to one set-based UPDATE on identical fresh data without load, then
// under a concurrent single-row UPDATE load (8 connections, an unrelated column of
// random rows, 100 updates/s each): the load's p99 during the default backfill ÷ its
// p99 with no backfill, and the backfill's rows/s within that budget; then the
// throughput/latency curve at budgets 5 %, 10 %, 25 %, 50 % and unlimited, each point
// a fixed window of FERRY_BENCH_CURVE_SECONDS (default 30) on a fresh table.
// Every run starts on a fresh table right after a CHECKPOINT, so the load's first
// ~20 s write a full-page image for most pages it touches and its p99 is 2-3× what
// it is later. The baselines are therefore matched: the load alone on a fresh table
// for as long as the run it is compared with (the whole default run; the curve's
// windows). The curve's is measured twice, before and after, to show the noise.
// Run with `npm run bench` (builds ferry first).
// FERRY_BENCH_URL picks the server (default postgres://postgres@127.0.0.1:5432/test),
// FERRY_BENCH_LOAD_RATE the updates per second of each load connection (default 100;
// 0 = as fast as it can).
import { randomBytes } from 'node:crypto';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import pg from 'pg';
import { SERVER, urlOf } from './server.js';

const ROWS = Number(process.env.FERRY_BENCH_ROWS ?? 1_000_000);
const LOAD_CONNECTIONS = 8;
const LOAD_RATE = Number(process.env.FERRY_BENCH_LOAD_RATE ?? 100);
const CURVE_MS = 1000 * Number(process.env.FERRY_BENCH_CURVE_SECONDS ?? 30);

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
  /** When each update started (ms since the epoch), for the latency over time. */
  const starts = [];
  const interval = rate > 0 ? 1000 / rate : 0;
  const loop = async (c) => {
    let next = performance.now();
    while (!stopping) {
      const id = 1 + Math.floor(Math.random() * rows);
      const t0 = process.hrtime.bigint();
      starts.push(Date.now());
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
  parentPort.postMessage({ latencies, starts });
}

/** Load workers still running, ended on failure. */
const workers = new Set();

/** Start the load; resolves once its connections are open, to a function that stops it and returns its latencies. */
async function startLoad(url) {
  const worker = new Worker(new URL(import.meta.url), { workerData: { url, rows: ROWS, rate: LOAD_RATE } });
  workers.add(worker);
  worker.on('exit', () => workers.delete(worker));
  const done = new Promise((ok, fail) => {
    worker.on('message', (m) => m.latencies && ok(m));
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
    const { latencies, starts } = await done;
    return { latencies, starts, seconds: (performance.now() - started) / 1000 };
  };
}

/** Percentiles of a latency sample (sorted copy; fine for a bench). */
function histogram({ latencies, seconds }) {
  const s = Float64Array.from(latencies).sort();
  const at = (q) => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? Number.NaN;
  return { n: s.length, rate: s.length / seconds, p50: at(0.5), p99: at(0.99), p999: at(0.999), max: s[s.length - 1] ?? Number.NaN };
}

/** Time slices the load's p99 is shown by during the default run: is the backfill's cost spread out or in bursts? */
const SLICE_MS = 10_000;
/** The p99 of each SLICE_MS of a load sample, in order. */
function slicedP99({ latencies, starts }) {
  const t0 = starts[0] ?? 0;
  const slices = [];
  latencies.forEach((ms, i) => {
    const k = Math.floor((starts[i] - t0) / SLICE_MS);
    if (!slices[k]) slices[k] = [];
    slices[k].push(ms);
  });
  return slices.filter((xs) => xs.length > 0).map((xs) => histogram({ latencies: xs, seconds: 1 }).p99);
}

/** The part of a load sample in its first `ms`. */
function firstOf({ latencies, starts }, ms) {
  const t0 = starts[0] ?? 0;
  const keep = latencies.flatMap((l, i) => (starts[i] - t0 < ms ? [l] : []));
  return { latencies: keep, starts: starts.filter((t) => t - t0 < ms), seconds: ms / 1000 };
}
/** Samples pooled into one. */
const pooled = (samples) => ({ latencies: samples.flatMap((x) => x.latencies), seconds: samples.reduce((t, x) => t + x.seconds, 0) });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

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
  /**
   * One default backfill (only the budget differs), to the end or for `windowMs`: rows/s, and the pacer's
   * decisions as the events record them. The probe gets a session of its own, as ferry's CLI gives it.
   */
  const batched = async (p99Increase = 0.1, windowMs = undefined) => {
    const spec = backfillStepSchema.parse({ id: 'split-name', kind: 'backfill', table: 'users', set: SET, where: WHERE, impact: { p99Increase } });
    const target = { migrationId: `0001_bench_${++runs}`, stepId: spec.id, spec };
    let last;
    const decisions = [];
    const signal = windowMs ? AbortSignal.timeout(windowMs) : undefined;
    const t0 = performance.now();
    const p = await runBackfill(db, target, {
      lockTimeoutMs: 2000,
      onProgress: (x) => {
        if (x.pacing && (x.pacing.dutyCycle !== last?.dutyCycle || x.pacing.impact !== last?.impact)) decisions.push(x.pacing);
        if (x.pacing) last = x.pacing;
      },
      ...(signal ? { signal } : {}),
    });
    const seconds = (performance.now() - t0) / 1000;
    if (!windowMs) {
      if (p.state !== 'done') throw new Error(`backfill ended ${p.state}`);
      await checkFilled();
    }
    const { rows: events } = await db.query(`SELECT reason FROM ferry.events WHERE migration_id = $1 AND kind = 'backfill-pacing' ORDER BY id`, [
      target.migrationId,
    ]);
    return { rows: p.rowsDone, seconds, rate: p.rowsDone / seconds, progress: p, pacing: last, decisions, events: events.map((e) => e.reason) };
  };
  const fmtBatched = (b) =>
    `${b.rows} rows in ${b.seconds.toFixed(2)} s = ${fmtRate(b.rate)} (${b.progress.batches} batches, last size ${b.progress.batchSize}, ` +
    `longest ${b.progress.longestBatchMs.toFixed(0)} ms, ${b.progress.retries} retries; ${b.events.length} pacing changes` +
    `${b.pacing ? `, last: ${b.pacing.state} duty ${(100 * b.pacing.dutyCycle).toFixed(0)} %, impact ${b.pacing.impact === null ? '—' : `${(100 * b.pacing.impact).toFixed(0)} %`}, paused ${(b.pacing.pausedMs / 1000).toFixed(1)} s` : ''})`;
  /** A fresh table, the load on it, and `run` beside it: the load's latencies and what `run` returned. */
  const underLoad = async (run) => {
    await freshUsers();
    const before = await serverWork();
    const stop = await startLoad(url);
    const out = await run();
    const sample = await stop();
    const after = await serverWork();
    return {
      sample,
      load: histogram(sample),
      slices: slicedP99(sample),
      out,
      work: { checkpoints: after.checkpoints - before.checkpoints, autovacuums: after.autovacuums - before.autovacuums },
    };
  };
  /**
   * What else the server did meanwhile, caused by the backfill's WAL and dead rows and felt by the load:
   * checkpoints (after one, every page's first change writes a full-page image) and autovacuums of the table.
   */
  const serverWork = async () => {
    const { rows } = await db.query(
      `SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter)::int AS checkpoints,
              (SELECT autovacuum_count FROM pg_stat_user_tables WHERE relid = 'users'::regclass)::int AS autovacuums`,
    );
    return rows[0];
  };
  const fmtWork = (w) =>
    `${w.checkpoints} checkpoint${w.checkpoints === 1 ? '' : 's'}, ${w.autovacuums} autovacuum${w.autovacuums === 1 ? '' : 's'} of the table meanwhile`;
  const ratio = (h, base) => (h.p99 / base.p99).toFixed(2);

  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
    db = await openServer({ url, applicationName: 'ferry bench backfill' });
    await ensureState(db);
    console.log(`backfill bench: ${ROWS.toLocaleString('en-US')} rows, set ${Object.keys(SET).join(', ')} where ${WHERE}`);

    // Throughput, no load: the pacer sees no other session and must not pause.
    await freshUsers();
    const set = await setBased();
    console.log(`set-based UPDATE:                 ${set.rows} rows in ${set.seconds.toFixed(2)} s = ${fmtRate(set.rate)} (WAL ${mib(set.wal)}/s)`);
    await freshUsers();
    const idle = await batched();
    console.log(`default backfill, no load:        ${fmtBatched(idle)}`);

    // Latency of the concurrent load without a backfill, from a fresh table as every run: for a curve window before the backfills.
    const before = await underLoad(() => sleep(CURVE_MS));
    console.log(`load, no backfill (${CURVE_MS / 1000} s):         ${fmtLoad(before.load)}`);
    const def = await underLoad(() => batched());
    console.log(`load during default backfill:     ${fmtLoad(def.load)}`);
    console.log(`  (default backfill under load: ${fmtBatched(def.out)})`);
    for (const e of def.out.events.slice(0, 6)) console.log(`  pacing: ${e}`);
    // The pacer's walk (duty cycle @ measured impact), as the progress saw it every 250 ms at most.
    const walk = def.out.decisions.map((d) => `${Math.round(100 * d.dutyCycle)}%@${d.impact === null ? '—' : Math.round(100 * d.impact)}`);
    console.log(`  duty@impact: ${walk.join(' ')}`);
    console.log(`  load p99 per ${SLICE_MS / 1000} s of the run (ms): ${def.slices.map((x) => x.toFixed(1)).join(' ')}; ${fmtWork(def.work)}`);
    // As long as the default run took, right after it (an unlimited run before it would leave its files' deletion and WAL behind): the default run's matched baseline, whose first window is the curve's second.
    const runMs = Math.max(CURVE_MS, def.out.seconds * 1000);
    const after = await underLoad(() => sleep(runMs));
    const afterWindow = histogram(firstOf(after.sample, CURVE_MS));
    console.log(`load, no backfill, after (${(runMs / 1000).toFixed(0)} s):  ${fmtLoad(after.load)}`);
    console.log(
      `  its first ${CURVE_MS / 1000} s: ${fmtLoad(afterWindow)}; p99 per ${SLICE_MS / 1000} s (ms): ${after.slices.map((x) => x.toFixed(1)).join(' ')}`,
    );
    const base = after.load;
    const windowBase = histogram(pooled([before.sample, firstOf(after.sample, CURVE_MS)]));
    const curve = [];
    for (const budget of [0.05, 0.25, 0.5, 'unlimited']) {
      const point = await underLoad(() => batched(budget, CURVE_MS));
      curve.push({ budget, ...point });
    }

    console.log('---');
    console.log(
      `noise: the load's p99 in its first ${CURVE_MS / 1000} s, no backfill, before ÷ after: ${(before.load.p99 / afterWindow.p99).toFixed(2)} (${before.load.p99.toFixed(2)} ms, ${afterWindow.p99.toFixed(2)} ms)`,
    );
    console.log(
      `load p99 during default backfill ÷ no backfill for as long: ${ratio(def.load, base)} (${def.load.p99.toFixed(2)} ms ÷ ${base.p99.toFixed(2)} ms; goal ≤ 1.10)`,
    );
    console.log(`default backfill under that load: ${fmtRate(def.out.rate)} (goal ≥ 16,700 rows/s)`);
    console.log(
      `default backfill with no load ÷ set-based UPDATE: ${(idle.rate / set.rate).toFixed(2)} (goal ≥ 0.85; paused ${((idle.pacing?.pausedMs ?? 0) / 1000).toFixed(2)} s)`,
    );
    console.log(
      `curve under load (budget → rows/s, load p99 ÷ no backfill; 10 % is the full default run against its own baseline, the others ${CURVE_MS / 1000} s windows against both ${CURVE_MS / 1000} s baselines pooled, p99 ${windowBase.p99.toFixed(2)} ms):`,
    );
    const points = [{ budget: 0.1, ...def }, ...curve].sort((a, b) => (a.budget === 'unlimited' ? 1 : b.budget === 'unlimited' ? -1 : a.budget - b.budget));
    for (const pt of points) {
      const name = pt.budget === 'unlimited' ? 'unlimited' : `${Math.round(pt.budget * 100)} %`;
      console.log(
        `  ${name.padStart(9)}: ${fmtRate(pt.out.rate).padStart(15)}, p99 ${ratio(pt.load, pt.budget === 0.1 ? base : windowBase)}× (p99 ${pt.load.p99.toFixed(2)} ms, p99.9 ${pt.load.p999.toFixed(2)} ms; ${fmtWork(pt.work)})`,
      );
    }
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
