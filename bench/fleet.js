// One migration across a fleet of databases: `ferry up --env <fleet>` (concurrency 8, the default waves: 1 canary,
// then 5, 25, 50, 100 %) next to a shell loop of `ferry up --env <one database>` per database, each on its own fresh
// set of databases (same server, same run), as a ratio (goal ≤ 0.1). While the fleet runs, pg_stat_activity is
// sampled for the connections open to the fleet's databases and its ledger: the runner's peak connections.
// FERRY_BENCH_FLEET_DBS sets the fleet's size (default 200); FERRY_BENCH_URL the server (default
// postgres://postgres@127.0.0.1:5432/test); FERRY_BENCH_BIN the ferry entry point (default bin/ferry.js, which runs dist/).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { SERVER, urlOf, withClient } from './server.js';
import { timed } from './timed.js';

const N = Number(process.env.FERRY_BENCH_FLEET_DBS ?? 200);
const CONCURRENCY = 8;
const ROOT = resolve(import.meta.dirname, '..');
const BIN = process.env.FERRY_BENCH_BIN ?? join(ROOT, 'bin', 'ferry.js');
const suffix = randomBytes(4).toString('hex');
const control = `fleet_bench_${suffix}_ctl`;
const sets = {
  fleet: Array.from({ length: N }, (_, i) => `fleet_bench_${suffix}_f${i}`),
  loop: Array.from({ length: N }, (_, i) => `fleet_bench_${suffix}_l${i}`),
};
const all = [control, ...sets.fleet, ...sets.loop];

/** Run `fn` on each of `items`, `limit` at a time. */
async function eachLimit(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) await fn(items[i]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

const onServer = (sql) => withClient(SERVER, (c) => c.query(sql));

/** The project: the control environment, one environment per loop database, and the fleet of the other set. */
function writeProject(dir) {
  const environments = { ctl: { url: urlOf(control), requireApproval: false } };
  sets.loop.forEach((db, i) => {
    environments[`db${i}`] = { url: urlOf(db), requireApproval: false };
  });
  environments.tenants = { requireApproval: false, fleet: { control: 'ctl', targets: { urls: sets.fleet.map(urlOf) }, concurrency: CONCURRENCY } };
  writeFileSync(join(dir, 'ferry.config.json'), JSON.stringify({ defaultEnv: 'ctl', environments }, null, 2));
  const m = join(dir, 'migrations', '0001_accounts');
  mkdirSync(m, { recursive: true });
  const manifest = { title: 'accounts', summary: 'one table per tenant', type: 'schema-additive', strategy: 'big-bang', steps: [{ id: 'create' }] };
  writeFileSync(join(m, 'migration.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(m, 'create.up.sql'), 'CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL);\n');
  writeFileSync(join(m, 'create.down.sql'), 'DROP TABLE accounts;\n');
}

/** Run ferry with --json to its end; resolves to its report, throws with its output on a non-zero exit. */
function ferryJson(dir, args) {
  return new Promise((ok, fail) => {
    const child = spawn(process.execPath, [BIN, ...args, '--json'], { cwd: dir, env: { ...process.env, NO_COLOR: '1' } });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('close', (code) => (code === 0 ? ok(JSON.parse(out)) : fail(new Error(`ferry ${args.join(' ')} exited ${code}:\n${out}\n${err}`.slice(-4000)))));
  });
}

/** Sample, every 20 ms, the connections open to the fleet's databases and the ledger; stop() resolves to the peak. */
function sampleConnections() {
  const watched = [control, ...sets.fleet];
  const c = new pg.Client({ connectionString: SERVER });
  let peak = 0;
  let running = true;
  const loop = (async () => {
    await c.connect();
    while (running) {
      const { rows } = await c.query('SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = ANY($1)', [watched]);
      peak = Math.max(peak, rows[0].n);
      await new Promise((r) => setTimeout(r, 20));
    }
    await c.end();
  })();
  return async () => {
    running = false;
    await loop;
    return peak;
  };
}

/** Fail loudly unless every database of `set` has the table and one applied step. */
async function checkApplied(set) {
  await eachLimit(set, 8, (db) =>
    withClient(urlOf(db), async (c) => {
      const { rows } = await c.query(
        "SELECT to_regclass('public.accounts') IS NOT NULL AS table, (SELECT count(*)::int FROM ferry.applied_steps WHERE migration_id = '0001_accounts') AS steps",
      );
      if (!rows[0].table || rows[0].steps !== 1) throw new Error(`${db}: migration not applied exactly once (${JSON.stringify(rows[0])})`);
    }),
  );
}

const work = mkdtempSync(join(tmpdir(), 'ferry-bench-fleet-'));
let exitCode = 0;
try {
  const started = Date.now();
  await eachLimit(all, 4, (db) => onServer(`CREATE DATABASE "${db}"`));
  await onServer('CHECKPOINT');
  console.log(`made ${all.length} databases in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  writeProject(work);
  await ferryJson(work, ['fleet', 'init', '--env', 'tenants']);

  const script = sets.loop.map((_, i) => `"${process.execPath}" "${BIN}" up --env db${i} >/dev/null || exit 1`).join('\n');
  const loopSeconds = await timed('sh', ['-c', script], work);
  await checkApplied(sets.loop);
  console.log(`shell loop: ${N} × \`ferry up --env <database>\` in ${loopSeconds.toFixed(2)} s`);

  const stop = sampleConnections();
  const fleetStart = process.hrtime.bigint();
  const report = await ferryJson(work, ['up', '--env', 'tenants']);
  const fleetSeconds = Number(process.hrtime.bigint() - fleetStart) / 1e9;
  const sampled = await stop();
  await checkApplied(sets.fleet);
  if (report.status !== 'done' || report.counts.done !== N) throw new Error(`fleet run ended ${report.status}: ${JSON.stringify(report.counts)}`);
  console.log(`fleet: \`ferry up --env tenants\` on ${N} databases (concurrency ${CONCURRENCY}, ${report.waves} waves) in ${fleetSeconds.toFixed(2)} s`);
  console.log(
    `fleet ÷ shell loop: ${(fleetSeconds / loopSeconds).toFixed(3)} (goal ≤ 0.1); peak connections of the runner: ${sampled} sampled in pg_stat_activity ` +
      `(${report.peakConnections} by its own count: the ledger's plus at most ${CONCURRENCY} databases in flight)`,
  );
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? err.message : err}`);
  exitCode = 1;
} finally {
  await eachLimit(all, 4, (db) => onServer(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`)).catch((err) =>
    console.error(`could not drop the bench databases (fleet_bench_${suffix}_*): ${err.message}`),
  );
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = exitCode;
