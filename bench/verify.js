// Chunked checksum verification on 1,000,000 rows, on a PostgreSQL server, in one
// run: two identical tables compared by ferry's engine (built in dist/) next to
// the bare cost of hashing them — one aggregate scan per table of the same
// normalised per-row hashes, both tables at once on two sessions, as the engine
// reads its two sides. Then 10 differences are injected and the queries and rows
// it needed to name them are printed.
// Run with `npm run build && node bench/verify.js`.
// FERRY_BENCH_URL picks the server (default postgres://postgres@127.0.0.1:5432/test),
// FERRY_BENCH_ROWS the table size, FERRY_BENCH_CHUNK the rows per top-level chunk.
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { SERVER, urlOf } from './server.js';

const ROWS = Number(process.env.FERRY_BENCH_ROWS ?? 1_000_000);
const CHUNK = Number(process.env.FERRY_BENCH_CHUNK ?? 20_000);
const GOAL = 1.5;

const seconds = async (fn) => {
  const t0 = performance.now();
  const out = await fn();
  return { out, s: (performance.now() - t0) / 1000 };
};

async function main() {
  const { checksumTables, fingerprint } = await import('../dist/verify/index.js');
  const { openServer } = await import('../dist/db/server.js');

  const dbName = `ferry_verify_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: SERVER });
  await admin.connect();
  const url = urlOf(dbName);
  const sessions = [];
  let exitCode = 0;
  try {
    await admin.query(`CREATE DATABASE "${dbName}"`);
    const open = async (name) => {
      const db = await openServer({ url, applicationName: `ferry bench verify ${name}` });
      sessions.push(db);
      return db;
    };
    const [setup, source, target] = [await open('setup'), await open('source'), await open('target')];
    const create = (
      t,
    ) => `CREATE TABLE ${t} (id bigint PRIMARY KEY, name text NOT NULL, email text, amount numeric(12,2), created_at timestamptz NOT NULL, active boolean NOT NULL);
      INSERT INTO ${t} SELECT g, 'User ' || g || ' Ünïcode', CASE WHEN g % 10 = 0 THEN NULL ELSE 'user' || g || '@example.com' END,
        round((g % 100000) / 7.0, 2), timestamptz '2024-01-01 00:00:00+00' + g * interval '1.5 seconds', g % 3 = 0
      FROM generate_series(1, ${ROWS}) g;`;
    const load = await seconds(async () => {
      await setup.exec(create('accounts'));
      await setup.exec(create('accounts_copy'));
      await setup.exec('VACUUM (ANALYZE) accounts');
      await setup.exec('VACUUM (ANALYZE) accounts_copy');
      await setup.exec('CHECKPOINT');
    });
    console.log(
      `verify bench: 2 × ${ROWS.toLocaleString('en-US')} rows (loaded in ${load.s.toFixed(1)} s), top-level chunks of ${CHUNK.toLocaleString('en-US')} rows`,
    );
    const spec = {
      source: { table: 'accounts' },
      target: { table: 'accounts_copy' },
      key: ['id'],
      columns: ['name', 'email', 'amount', 'created_at', 'active'],
    };

    // Warm both tables into shared buffers so neither measurement pays the first read.
    await Promise.all([fingerprint(source, spec, 'source'), fingerprint(target, spec, 'target')]);

    const bare = await seconds(() => Promise.all([fingerprint(source, spec, 'source'), fingerprint(target, spec, 'target')]));
    const bareSeq = await seconds(async () => [await fingerprint(source, spec, 'source'), await fingerprint(target, spec, 'target')]);
    if (bare.out[0].sum !== bare.out[1].sum) throw new Error('identical tables have different fingerprints');
    console.log(`bare aggregate scan of both (two sessions at once): ${bare.s.toFixed(2)} s   (one after the other: ${bareSeq.s.toFixed(2)} s)`);

    const full = await seconds(() => checksumTables(source, target, spec, { chunkRows: CHUNK }));
    const r = full.out;
    if (!r.ok) throw new Error(`identical tables reported ${r.differenceCount} differences`);
    const ratio = full.s / bare.s;
    console.log(
      `full checksum comparison:  ${full.s.toFixed(2)} s, ${r.chunks} chunks, ${r.stats.queries} queries, ${r.stats.rowsFetched} rows fetched, snapshot ${r.snapshot}`,
    );
    console.log(`ratio to the bare scan: ${ratio.toFixed(2)} (goal ≤ ${GOAL}; ${(full.s / bareSeq.s).toFixed(2)} against the sequential scans)`);
    if (ratio > GOAL) exitCode = 1;

    // 10 differences spread over the table: updates, deletes, an insert.
    await setup.exec(`UPDATE accounts_copy SET name = name || '!' WHERE id IN (17, 250001, 999999);
      UPDATE accounts_copy SET amount = amount + 0.01 WHERE id IN (123456, 654321);
      UPDATE accounts_copy SET email = NULL WHERE id = 400001;
      UPDATE accounts_copy SET created_at = created_at + interval '1 microsecond' WHERE id = 777777;
      DELETE FROM accounts_copy WHERE id IN (2, 500000);
      INSERT INTO accounts_copy VALUES (${ROWS + 5}, 'extra', NULL, 1, now(), true)`);
    const found = await seconds(() => checksumTables(source, target, spec, { chunkRows: CHUNK }));
    const d = found.out;
    console.log(`with 10 differences: ${found.s.toFixed(2)} s, found ${d.differenceCount} (${d.differences.map((x) => `${x.kind} ${x.key.id}`).join(', ')})`);
    console.log(
      `  ${d.stats.queries} queries, ${d.stats.rowsFetched} rows fetched (${r.stats.queries} queries / ${r.stats.rowsFetched} rows for equal tables; ${(2 * ROWS).toLocaleString('en-US')} rows compared)`,
    );
    if (d.differenceCount !== 10) exitCode = 1;
  } catch (err) {
    console.error(err);
    exitCode = 1;
  } finally {
    for (const db of sessions) await db.close();
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => {});
    await admin.end();
  }
  process.exitCode = exitCode;
}

await main();
