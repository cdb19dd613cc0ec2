// A separate application process that reads users through the flag's paths:
//   node reader-app.mjs <url> <flag>
// For each request it asks `isEnabled(flag, unit, false)` (default false, as apps write it) and reads
// first_name/last_name (new path) or full_name (old path). Prints "ready" once its snapshot is in and
// its first request succeeded; on SIGTERM prints "done <JSON totals>" and exits.
import pg from 'pg';
import { createFlags } from '../../dist/sdk/index.js';

const [url, key] = process.argv.slice(2);
const warnings = [];
const flags = createFlags({ url }, { heartbeatMs: 200, metrics: false, onWarning: (msg) => warnings.push(msg) });
const client = new pg.Client({ connectionString: url });
await client.connect();
await flags.ready();

const totals = { requests: 0, newPath: 0, oldPath: 0, failed: 0, errors: [], warnings };
let stopping = false;
let announced = false;
process.on('SIGTERM', () => {
  stopping = true;
});

for (let i = 0; !stopping; i++) {
  const unit = `user-${i % 500}`;
  const id = (i % 500) + 1;
  const useNew = flags.isEnabled(key, unit, false);
  try {
    const sql = useNew ? 'SELECT first_name, last_name FROM users WHERE id = $1' : 'SELECT full_name FROM users WHERE id = $1';
    await client.query(sql, [id]);
    totals.requests++;
    if (useNew) totals.newPath++;
    else totals.oldPath++;
  } catch (err) {
    totals.requests++;
    totals.failed++;
    if (totals.errors.length < 5) totals.errors.push(`${useNew ? 'new' : 'old'}: ${err.message}`);
  }
  if (!announced) {
    announced = true;
    console.log('ready');
  }
  await new Promise((r) => setTimeout(r, 3));
}
await flags.close();
await client.end();
console.log(`done ${JSON.stringify(totals)}`);
process.exit(0);
