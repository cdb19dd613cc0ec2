// `ferry status` with one 10 MB SQL step in the tree, on the embedded PGlite default:
// cold (no .ferry/cache: the script is parsed) next to warm (the cache holds it), and a
// baseline project whose step is one small statement, all in the same run; the median
// of ROUNDS is reported with the cold / warm ratio. Then, in this process, the phases
// behind `ferry up` and `ferry lint`: loading (fresh parse vs cache) and lintMigration.
// Run with `npm run bench` (builds ferry first), or `npm run build && node bench/huge-file.js`.
// FERRY_BENCH_MB sets the script size (default 10), FERRY_BENCH_ROUNDS the rounds (default 3).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { hugeScript } from './huge-sql.js';
import { timed } from './timed.js';

const MB = Number(process.env.FERRY_BENCH_MB ?? 10);
const ROUNDS = Number(process.env.FERRY_BENCH_ROUNDS ?? 3);
const GOAL_S = 1;
const ROOT = resolve(import.meta.dirname, '..');
const FERRY = join(ROOT, 'bin', 'ferry.js');

/** Run `ferry args…` in `cwd`; resolves to its wall time in seconds, throws on a non-zero exit. */
const ferry = (cwd, args) => timed(process.execPath, [FERRY, ...args], cwd);

/** A project with one migration whose single step runs `up`. */
function writeProject(dir, up) {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ferry.config.json'), JSON.stringify({ defaultEnv: 'local', environments: { local: { dataDir: '.ferry/local' } } }, null, 2));
  const m = join(dir, 'migrations', '20260101000000_harbour_seed');
  mkdirSync(m, { recursive: true });
  const manifest = { title: 'harbour seed', summary: 'ships and sailings', type: 'schema-additive', strategy: 'big-bang', steps: [{ id: 'seed' }] };
  writeFileSync(join(m, 'migration.json'), JSON.stringify(manifest, null, 2));
  writeFileSync(join(m, 'seed.up.sql'), up);
  writeFileSync(join(m, 'seed.down.sql'), 'DROP TABLE IF EXISTS sailings;\nDROP TABLE IF EXISTS ships;\n');
  writeFileSync(join(m, 'seed.verify.sql'), "SELECT to_regclass('ships') IS NOT NULL;\n");
  return m;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (s) => `${s.toFixed(2)} s`;

/** In-process timings of the phases `up` and `lint` go through, from the built library. */
async function phases(projectDir) {
  const { loadAll } = await import('../dist/migration/loader.js');
  const { projectParseCache } = await import('../dist/migration/parse-cache.js');
  const { lintMigration } = await import('../dist/lint/index.js');
  const { parserReady } = await import('../dist/db/sql-script.js');
  await parserReady();
  const migrationsDir = join(projectDir, 'migrations');
  const time = (fn) => {
    const t0 = performance.now();
    const out = fn();
    return { out, s: (performance.now() - t0) / 1000 };
  };
  const timeAsync = async (fn) => {
    const t0 = performance.now();
    const out = await fn();
    return { out, s: (performance.now() - t0) / 1000 };
  };
  const fresh = await timeAsync(() => loadAll(migrationsDir));
  const freshLint = time(() => lintMigration(fresh.out[0]));
  const warm = await timeAsync(() => loadAll(migrationsDir, { cache: projectParseCache(projectDir) }));
  const warmLint = time(() => lintMigration(warm.out[0]));
  const again = time(() => lintMigration(warm.out[0]));
  if (JSON.stringify(freshLint.out) !== JSON.stringify(warmLint.out)) throw new Error('lint reports differ between a fresh parse and the cache');
  return { fresh: fresh.s, freshLint: freshLint.s, warm: warm.s, warmLint: warmLint.s, lintOnly: again.s };
}

const work = mkdtempSync(join(tmpdir(), 'ferry-bench-huge-'));
let exitCode = 0;
try {
  const sql = hugeScript(MB * 1024 * 1024);
  const huge = join(work, 'huge');
  const small = join(work, 'small');
  writeProject(huge, sql);
  writeProject(small, 'CREATE TABLE ships (id bigint PRIMARY KEY, name text NOT NULL);\n');
  console.log(
    `a ${(Buffer.byteLength(sql) / 1024 / 1024).toFixed(1)} MB step: ${sql.split('\n').length} lines, ${(sql.match(/;\n/g) ?? []).length} statements`,
  );
  // The first run of each project creates its embedded database; not measured.
  await ferry(huge, ['status']);
  await ferry(small, ['status']);
  const times = { cold: [], warm: [], baseline: [] };
  for (let round = 1; round <= ROUNDS; round++) {
    rmSync(join(huge, '.ferry', 'cache'), { recursive: true, force: true });
    const cold = await ferry(huge, ['status']);
    const warm = await ferry(huge, ['status']);
    const baseline = await ferry(small, ['status']);
    times.cold.push(cold);
    times.warm.push(warm);
    times.baseline.push(baseline);
    console.log(`round ${round}/${ROUNDS}: cold ${fmt(cold)}, warm ${fmt(warm)}, baseline ${fmt(baseline)}`);
  }
  const [cold, warm, baseline] = [median(times.cold), median(times.warm), median(times.baseline)];
  console.log(`\nferry status, median of ${ROUNDS} (PGlite):`);
  console.log(`  cold (parses the ${MB} MB step)   ${fmt(cold)}`);
  console.log(`  warm (.ferry/cache)              ${fmt(warm)}   cold / warm = ${(cold / warm).toFixed(1)}×`);
  console.log(`  baseline (no huge step)          ${fmt(baseline)}   warm − baseline = ${((warm - baseline) * 1000).toFixed(0)} ms`);
  console.log(
    `  goal: status under ${GOAL_S} s with the huge step: ${warm < GOAL_S ? 'met' : `not met (${fmt(warm)}; the baseline itself is ${fmt(baseline)})`}`,
  );

  const p = await phases(huge);
  console.log('\nin process (what `ferry up` and `ferry lint` do before applying):');
  console.log(`  load, fresh parse                ${fmt(p.fresh)}`);
  console.log(`  load, from the cache             ${fmt(p.warm)}`);
  console.log(`  lintMigration, trees in hand     ${fmt(p.freshLint)}`);
  console.log(`  lintMigration, cached statements ${fmt(p.warmLint)}   (the script is parsed once for its trees)`);
  console.log(`  lintMigration, again             ${fmt(p.lintOnly)}`);
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
process.exit(exitCode);
