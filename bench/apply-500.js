// Wall time of applying 500 small migrations (one CREATE TABLE each) in one process,
// ferry (`node bin/ferry.js up`) next to dbmate (`dbmate up`), on the same server in
// the same run. Each run gets a fresh database; the order alternates between rounds;
// the median of ROUNDS (default 6) is reported, and the geometric mean of the rounds' paired ratios; each run
// starts after its database is made and a CHECKPOINT. Run with `npm run bench` (builds ferry first).
// FERRY_BENCH_URL picks the server (default postgres://postgres@127.0.0.1:5432/test);
// FERRY_BENCH_BIN the ferry entry point (default bin/ferry.js, which runs dist/).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SERVER, urlOf, withClient } from './server.js';
import { timed } from './timed.js';

const N = 500;
const ROUNDS = Number(process.env.FERRY_BENCH_ROUNDS ?? 6);
const ROOT = resolve(import.meta.dirname, '..');
const suffix = randomBytes(4).toString('hex');
const names = { ferry: `ferry_bench_${suffix}`, dbmate: `dbmate_bench_${suffix}` };

const table = (i) => `t_${i}`;
const upSql = (i) => `CREATE TABLE ${table(i)} (id bigint PRIMARY KEY, v text);\n`;
const downSql = (i) => `DROP TABLE ${table(i)};\n`;

/** A ferry project: ferry.config.json and migrations/<NNNN>_t_i/ with one step each. */
function writeFerryProject(dir) {
  const config = { defaultEnv: 'bench', environments: { bench: { url: urlOf(names.ferry), requireApproval: false } } };
  writeFileSync(join(dir, 'ferry.config.json'), JSON.stringify(config, null, 2));
  for (let i = 1; i <= N; i++) {
    const m = join(dir, 'migrations', `${String(i).padStart(4, '0')}_${table(i)}`);
    mkdirSync(m, { recursive: true });
    const manifest = { title: `create ${table(i)}`, summary: `bench table ${i}`, type: 'schema-additive', strategy: 'big-bang', steps: [{ id: 'create' }] };
    writeFileSync(join(m, 'migration.json'), JSON.stringify(manifest, null, 2));
    writeFileSync(join(m, 'create.up.sql'), upSql(i));
    writeFileSync(join(m, 'create.down.sql'), downSql(i));
  }
}

/** dbmate's layout: db/migrations/<version>_t_i.sql with up and down sections. */
function writeDbmateProject(dir) {
  mkdirSync(join(dir, 'db', 'migrations'), { recursive: true });
  for (let i = 1; i <= N; i++) {
    const version = 20250101000000 + i;
    writeFileSync(join(dir, 'db', 'migrations', `${version}_${table(i)}.sql`), `-- migrate:up\n${upSql(i)}\n-- migrate:down\n${downSql(i)}`);
  }
}

const dropAll = () => withClient(SERVER, async (c) => Promise.all(Object.values(names).map((db) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`))));
/** A fresh database for `tool`, then a CHECKPOINT: each run starts from the same state, right after its own database was made. */
const freshFor = (tool) =>
  withClient(SERVER, async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${names[tool]}" WITH (FORCE)`);
    await c.query(`CREATE DATABASE "${names[tool]}"`);
    await c.query('CHECKPOINT');
  });

/** Fail loudly unless all N tables exist; also counts the transactions that created them (distinct xmin). */
async function checkApplied(tool) {
  return withClient(urlOf(names[tool]), async (c) => {
    const { rows } = await c.query(
      `SELECT count(*)::int AS tables, count(DISTINCT c.xmin::text)::int AS txns
         FROM pg_tables t JOIN pg_class c ON c.oid = format('%I.%I', t.schemaname, t.tablename)::regclass
        WHERE t.schemaname = 'public' AND t.tablename ~ '^t_[0-9]+$'`,
    );
    if (rows[0].tables !== N) throw new Error(`${tool} applied ${rows[0].tables} tables, expected ${N}`);
    return rows[0];
  });
}

/** What each tool wrote about the run, read from its own tables. */
async function bookkeeping() {
  const ferry = await withClient(urlOf(names.ferry), (c) =>
    c.query(`SELECT (SELECT count(*) FROM ferry.applied_steps)::int AS steps, (SELECT count(*) FROM ferry.events)::int AS events,
                    (SELECT count(*) FROM ferry.migrations WHERE checksum IS NOT NULL)::int AS checksums`),
  );
  const dbmate = await withClient(urlOf(names.dbmate), (c) =>
    c.query(`SELECT string_agg(column_name, ', ' ORDER BY ordinal_position) AS cols FROM information_schema.columns WHERE table_name = 'schema_migrations'`),
  );
  return { ...ferry.rows[0], dbmateCols: dbmate.rows[0].cols };
}

const geomean = (xs) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const work = mkdtempSync(join(tmpdir(), 'ferry-bench-'));
const dirs = { ferry: join(work, 'ferry'), dbmate: join(work, 'dbmate') };
const commands = {
  ferry: [process.execPath, [process.env.FERRY_BENCH_BIN ?? join(ROOT, 'bin', 'ferry.js'), 'up']],
  dbmate: [
    join(ROOT, 'node_modules', '.bin', 'dbmate'),
    ['--url', `${urlOf(names.dbmate)}?sslmode=disable`, '--migrations-dir', join(dirs.dbmate, 'db', 'migrations'), '--no-dump-schema', 'up'],
  ],
};
const times = { ferry: [], dbmate: [] };
/**
 * ferry ÷ dbmate per round: the two ran back to back on the same server. The run that goes
 * first in a round is slower on this machine, whichever tool it is, so the order alternates
 * and the figure is the geometric mean of the rounds' ratios (an even number of rounds).
 */
const ratios = [];
let exitCode = 0;
try {
  for (const d of Object.values(dirs)) mkdirSync(d);
  writeFerryProject(dirs.ferry);
  writeDbmateProject(dirs.dbmate);
  let notes;
  for (let round = 1; round <= ROUNDS; round++) {
    const order = round % 2 ? ['ferry', 'dbmate'] : ['dbmate', 'ferry'];
    const line = [];
    const txns = {};
    for (const tool of order) {
      const [cmd, args] = commands[tool];
      await freshFor(tool);
      const s = await timed(cmd, args, dirs[tool]);
      txns[tool] = (await checkApplied(tool)).txns;
      times[tool].push(s);
      line.push(`${tool} ${s.toFixed(2)} s`);
    }
    ratios.push(times.ferry.at(-1) / times.dbmate.at(-1));
    console.log(`round ${round}/${ROUNDS}: ${line.join(', ')} (ratio ${ratios.at(-1).toFixed(2)})`);
    notes = { ...(await bookkeeping()), txns };
  }
  console.log(
    `compared: ${N} one-table migrations applied by one process each. ferry ran each step in its own transaction (${notes.txns.ferry} distinct creating xmins) ` +
      `with lock_timeout set per step, and recorded ${notes.steps} applied steps, ${notes.checksums} migration checksums and ${notes.events} events; ` +
      `dbmate (${notes.txns.dbmate} distinct creating xmins) records schema_migrations(${notes.dbmateCols}).`,
  );
  const f = median(times.ferry);
  const d = median(times.dbmate);
  console.log(
    `median of ${ROUNDS}: ferry ${f.toFixed(2)} s, dbmate ${d.toFixed(2)} s; geometric mean of the rounds' ratios → ferry takes ${geomean(ratios).toFixed(2)}× dbmate's time (goal ≤ 1.0)`,
  );
} catch (err) {
  console.error(`bench failed: ${err instanceof Error ? err.message : err}`);
  exitCode = 1;
} finally {
  await dropAll().catch((err) => console.error(`could not drop ${Object.values(names).join(', ')}: ${err.message}`));
  rmSync(work, { recursive: true, force: true });
}
process.exitCode = exitCode;
