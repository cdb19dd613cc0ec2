#!/usr/bin/env node
// Health gates and the rollout controller, on the embedded database (no server).
//
// A simulated service uses ferry's SDK: each request is for a user, runs on the new
// path when the flag is on for that user, and is counted for its cohort with
// flags.record() (latencies are simulated, 10–19 ms, so the outcome never depends on
// how busy the machine is). The controller (the code behind `ferry rollout <id> run`)
// judges the decision matrix every second:
//   run 1  checkout-v2: healthy traffic → promoted 5 → 25 → 50 → 75 → 100 % on green;
//   run 2  search-v2:   5 % of the new cohort's requests fail → red → rolled back
//          automatically (flag off, phase rolled-back).
// PGlite is one process's database, so the service and the controller share this
// process and one handle (PGlite runs one query or transaction at a time).
//
// Standalone:   npm run build && node scripts/demo-health.js [--clean]
// From a demo:  import { healthDemo } from './demo-health.js';
//               await healthDemo({ db, project });  // db: openPglite of the project's data dir
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controllerTargetOf, runController, sourceFor } from '../dist/health/index.js';
import { dataErrors, down, loadAll, openPglite, up } from '../dist/index.js';
import { createFlags } from '../dist/sdk/index.js';
import { MIGRATION_LOCK_KEY } from '../dist/workflow/execute.js';
import { currentPhase, transition } from '../dist/workflow/lifecycle.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const ACTOR = 'demo-health';
const tty = process.stdout.isTTY;
const bold = (s) => (tty ? `\x1b[1m${s}\x1b[0m` : s);
const dim = (s) => (tty ? `\x1b[2m${s}\x1b[0m` : s);
const paint = { green: 32, yellow: 33, red: 31, 'no-data': 2 };
const colour = (c) => (tty ? `\x1b[${paint[c]}m${c.toUpperCase()}\x1b[0m` : c.toUpperCase());

/** The two migrations of the demo: one table each, a flag, stages held 2 s, health judged every second over 3 s. */
const MIGRATIONS = [
  { name: 'health_checkout', flag: 'checkout-v2', table: 'checkout_v2_orders' },
  { name: 'health_search', flag: 'search-v2', table: 'search_v2_index' },
];

function writeMigrations(project, log) {
  const stamp = new Date().toISOString().replace(/\D/g, '').slice(0, 14);
  return MIGRATIONS.map((m, i) => {
    const id = `${String(Number(stamp) + i)}_${m.name}`;
    const dir = join(project, 'migrations', id);
    mkdirSync(dir, { recursive: true });
    const manifest = {
      title: `${m.flag}: the new path behind a flag`,
      summary: `creates ${m.table}; the application switches to it per user behind flag ${m.flag}`,
      type: 'schema-additive',
      strategy: 'incremental',
      flag: m.flag,
      rollout: { stages: [5, 25, 50, 75, 100].map((percent) => ({ percent, hold: '2s' })) },
      health: { interval: '1s', window: '3s', thresholds: { minRequests: 20 } },
      steps: [{ id: 'create' }],
    };
    writeFileSync(join(dir, 'migration.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    writeFileSync(join(dir, 'create.up.sql'), `CREATE TABLE ${m.table} (id bigint PRIMARY KEY, body text);\n`);
    writeFileSync(join(dir, 'create.down.sql'), `DROP TABLE ${m.table};\n`);
    log(dim(`  wrote migrations/${id}: flag ${m.flag}, stages 5/25/50/75/100 % held 2 s, health every 1 s over 3 s`));
    return id;
  });
}

/** The simulated service: 30 requests every 20 ms for rotating users, each measured for its cohort. */
function startService(flags, flag, { newErrorRate = 0 } = {}) {
  let i = 0;
  let failures = 0;
  const sent = { new: 0, old: 0, failed: 0 };
  const timer = setInterval(() => {
    for (let k = 0; k < 30; k++) {
      const user = `user-${i++ % 10_000}`;
      const latencyMs = 10 + (i % 10);
      if (flags.isEnabled(flag, user)) {
        sent.new++;
        failures += newErrorRate;
        const error = failures >= 1;
        if (error) {
          failures -= 1;
          sent.failed++;
        }
        flags.record(flag, user, { latencyMs, error });
      } else {
        sent.old++;
        flags.record(flag, user, { latencyMs });
      }
    }
  }, 20);
  return { sent, stop: () => clearInterval(timer) };
}

/** The workflow seam the controller takes (the CLI builds the same one). */
function workflow(db, migrations, id) {
  return {
    currentPhase,
    transition,
    locked: (fn) => db.withAdvisoryLock(MIGRATION_LOCK_KEY, 60_000, fn),
    dataErrors,
    rollBack: async (to) => {
      const opts = { actor: ACTOR, lockTimeoutMs: 5000, lockRetries: 3, lockWaitMs: 60_000, ...(to === undefined ? {} : { to }) };
      return (await down(db, migrations, id, opts)).steps.map((s) => s.stepId);
    },
  };
}

function printEvent(log, e) {
  if (e.type === 'evaluation') {
    const m = e.matrix;
    const err = m.metrics.find((v) => v.metric === 'errorRate');
    const lat = m.metrics.find((v) => v.metric === 'latencyP99');
    const figures = `errors ${err.value === null ? '—' : `${(err.value * 100).toFixed(2)} %`}  p99 ${lat.value === null ? '—' : `${lat.value.toFixed(1)} ms`}${lat.compared === null ? '' : ` (${lat.compared >= 0 ? '+' : ''}${(lat.compared * 100).toFixed(1)} %)`}  new/old ${m.traffic.new.requests}/${m.traffic.old.requests}`;
    log(`    #${e.evaluation} stage ${e.stage}/${e.stages} ${m.percentage} %  ${colour(m.colour)}  ${dim(figures)}  → ${e.decision.action}`);
  } else if (e.type === 'moved') log(`  ${bold(e.action)} ${e.from} % → ${e.to} %`);
  else if (e.type === 'rolled-back') log(`  ${bold('rolled back')}: ${e.reason}`);
}

async function controlled(db, migrations, id, service, log) {
  const m = migrations.find((x) => x.id === id);
  const t = controllerTargetOf(m);
  try {
    return await runController(db, t, {
      actor: ACTOR,
      workflow: workflow(db, migrations, id),
      source: sourceFor(db, t.settings),
      lockWaitMs: 60_000,
      onEvent: (e) => printEvent(log, e),
    });
  } finally {
    service.stop();
  }
}

/**
 * The health demo on an open database `db` of the ferry project in folder
 * `project`: writes two migrations into its migrations folder, applies them, and
 * runs the controller twice with a simulated service. Resolves to both results;
 * throws when an outcome is not the expected one.
 */
export async function healthDemo({ db, project, log = console.log }) {
  log(bold('health gates: a simulated service sends traffic through the SDK; the controller promotes, pauses or rolls back'));
  const ids = writeMigrations(project, log);
  // The project's migrations, all of them: up and down refuse while an applied one is missing from the list given.
  const migrations = await loadAll(join(project, 'migrations'));
  for (const only of ids) await up(db, migrations, { actor: ACTOR, lockTimeoutMs: 5000, lockRetries: 3, lockWaitMs: 60_000, requireApproval: false, only });
  log(dim(`  applied ${ids.join(', ')}`));
  const flags = createFlags({ db }, { pollIntervalMs: 200, metrics: { flushIntervalMs: 250, bucketMs: 1000 } });
  await flags.ready();
  try {
    log(`\n${bold(`run 1: ${MIGRATIONS[0].flag}, healthy traffic`)}`);
    const one = startService(flags, MIGRATIONS[0].flag);
    const first = await controlled(db, migrations, ids[0], one, log);
    log(`  → ${first.outcome} at ${first.percentage} % after ${first.evaluations} evaluations (${one.sent.new} new / ${one.sent.old} old requests)`);
    if (first.outcome !== 'done' || first.percentage !== 100) throw new Error(`run 1 should roll out to 100 %, but ended ${first.outcome}: ${first.reason}`);

    log(`\n${bold(`run 2: ${MIGRATIONS[1].flag}, 5 % of the new cohort's requests fail`)}`);
    const two = startService(flags, MIGRATIONS[1].flag, { newErrorRate: 0.05 });
    const second = await controlled(db, migrations, ids[1], two, log);
    const flag = flags.flag(MIGRATIONS[1].flag);
    log(`  → ${second.outcome} at ${second.percentage} %: ${second.reason}`);
    if (second.outcome !== 'rolled-back') throw new Error(`run 2 should be rolled back, but ended ${second.outcome}: ${second.reason}`);
    const { rows } = await db.query('SELECT enabled FROM ferry.flags WHERE key = $1', [MIGRATIONS[1].flag]);
    if (rows[0]?.enabled !== false) throw new Error('run 2: the flag should be off after the quick rollback');
    log(dim(`  flag ${MIGRATIONS[1].flag} is off (SDK snapshot: ${flag ? (flag.enabled ? 'on' : 'off') : 'refreshing'}); everyone is back on the old path`));
    return { ids, runs: [first, second] };
  } finally {
    await flags.close();
  }
}

// Standalone: a throwaway project, `ferry init`, the demo, then `ferry log` and `ferry rollout status` of both.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const ferryBin = join(root, 'bin', 'ferry.js');
  const project = mkdtempSync(join(tmpdir(), 'ferry-health-demo-'));
  const ferry = (args) => {
    console.log(`\n${bold(`$ ferry ${args.join(' ')}`)}`);
    const r = spawnSync(process.execPath, [ferryBin, ...args, '--project', project], { stdio: 'inherit', env: { ...process.env, FERRY_ACTOR: ACTOR } });
    return r.status;
  };
  if (ferry(['init']) !== 0) process.exit(1);
  let result;
  const db = await openPglite({ dataDir: join(project, '.ferry', 'local') });
  try {
    result = await healthDemo({ db, project });
  } catch (err) {
    process.stderr.write(`\nhealth demo FAILED: ${err.message}\nproject kept for inspection: ${project}\n`);
    process.exitCode = 1;
  } finally {
    await db.close();
  }
  if (result) {
    ferry(['rollout', result.ids[0], 'status']);
    ferry(['health', result.ids[1]]);
    ferry(['log', result.ids[1]]);
    if (process.argv.includes('--clean')) rmSync(project, { recursive: true, force: true });
    else console.log(`\nproject kept at ${project}`);
  }
}
