// An application writing to `users` while a backfill runs, in the old shape
// (first_name left NULL): inserts new rows, bumps `visits` on random rows (a
// column the backfill never writes), renames random rows not yet backfilled.
// Prints "counts <JSON>" at the end.
import pg from 'pg';

const cfg = JSON.parse(process.env.FERRY_APP_WRITER ?? '{}');
const c = new pg.Client({ connectionString: cfg.url, application_name: 'app-writer' });
await c.connect();
const counts = { inserted: 0, visits: 0, renamed: 0 };
const pick = () => 1 + Math.floor(Math.random() * cfg.maxId);
process.stdout.write('started\n');
for (let i = 0; i < cfg.ops; i++) {
  const ins = await c.query(`INSERT INTO users (id, full_name) VALUES (nextval('users_new_id'), $1)`, [`New${i} Writer${i % 13}`]);
  counts.inserted += ins.rowCount ?? 0;
  const v = await c.query('UPDATE users SET visits = visits + 1 WHERE id = $1', [pick()]);
  counts.visits += v.rowCount ?? 0;
  // A different row each time (7919 is prime to maxId), so the renamed rows can be counted at the end.
  const r = await c.query('UPDATE users SET full_name = $2 WHERE id = $1 AND first_name IS NULL', [1 + ((i * 7919) % cfg.maxId), `Renamed${i} Later${i % 7}`]);
  counts.renamed += r.rowCount ?? 0;
}
process.stdout.write(`counts ${JSON.stringify(counts)}\n`);
await c.end();
