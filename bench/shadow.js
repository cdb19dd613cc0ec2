// A shadow read's overhead on the control path (ferry/compat): the control's p99 with shadow off (a plain
// call) and with shadow on, its candidate 10× slower, measured in the same run (goal: p99 within +5 %).
// The control is an async function awaiting a 1 ms timer: an I/O-bound read of realistic size whose time is
// spent waiting, not computing, like a query to a database server. (A PGlite query would not do: PGlite runs
// in this thread and answers one query at a time, so a 10× slower candidate query would queue the control
// behind it — a property of an embedded database, not of shadow().) The candidate awaits a 10 ms timer.
// The two modes alternate in short blocks (so load from elsewhere on the machine hits both alike), and each
// shadow-on block is followed by a pause for its last candidates, so none is still running in a shadow-off block.
// Run with `npm run build` first: `node bench/shadow.js`. Embedded PGlite holds the flag; nothing else is needed.
import { createCompat } from '../dist/compat/index.js';
import { openPglite } from '../dist/db/pglite.js';
import { createFlags } from '../dist/sdk/index.js';
import { ensureState } from '../dist/state/store.js';

const KEY = 'bench-shadow';
const BLOCKS = 192;
const PER_BLOCK = 50;
const CONTROL_MS = 1;
const CANDIDATE_MS = 10 * CONTROL_MS;

const wait = (ms, value) => new Promise((r) => setTimeout(() => r(value), ms));
const control = () => wait(CONTROL_MS, { id: 1, name: 'Ada Lovelace' });
const candidate = () => wait(CANDIDATE_MS, { id: 1, name: 'Ada Lovelace' });

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main() {
  const db = await openPglite();
  await ensureState(db);
  await db.query(`INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, true, 100, 'bench')`, [KEY]);
  const flags = createFlags({ db }, { metrics: { flushIntervalMs: 3_600_000 } });
  await flags.ready();
  const compat = createCompat(flags, { flushIntervalMs: 3_600_000 });
  const off = [];
  const on = [];
  const once = async (shadowOn, into) => {
    const started = performance.now();
    if (shadowOn) await compat.shadow(KEY, 'user-1', { control, candidate });
    else await control();
    into?.push(performance.now() - started);
  };
  for (let i = 0; i < 200; i++) await once(i % 2 === 0); // warm up both paths
  for (let b = 0; b < BLOCKS; b++) {
    const first = b % 2 === 0;
    for (const shadowOn of [first, !first]) {
      for (let i = 0; i < PER_BLOCK; i++) await once(shadowOn, shadowOn ? on : off);
      if (shadowOn) await wait(CANDIDATE_MS + 2);
    }
  }
  await wait(CANDIDATE_MS * 3);
  off.sort((a, b) => a - b);
  on.sort((a, b) => a - b);
  const fmt = (x) => `${x.toFixed(3)} ms`;
  const [p50off, p99off, p50on, p99on] = [percentile(off, 50), percentile(off, 99), percentile(on, 50), percentile(on, 99)];
  const ratio = p99on / p99off;
  console.log(
    `shadow read overhead on the control (${CONTROL_MS} ms timer; candidate ${CANDIDATE_MS} ms; ${off.length} calls each): ` +
      `off p50 ${fmt(p50off)} p99 ${fmt(p99off)} · on p50 ${fmt(p50on)} p99 ${fmt(p99on)} · p99 ratio ${ratio.toFixed(3)} (goal ≤ 1.05)`,
  );
  await compat.close();
  await flags.close();
  await db.close();
}

await main();
