// One application process doing shadow reads through ferry/compat:
//   node shadow-worker.mjs <url> <flag> <worker> <calls> <mismatchEvery>
// Unit i of worker w is `w<w>-u<i>`; every <mismatchEvery>-th call's candidate differs. The candidate runs
// for the new cohort and for every call of the old cohort (sample 1), so each call is one comparison.
// Flushes, then prints "done <JSON totals>" and exits.
import { createCompat } from '../../dist/compat/index.js';
import { createFlags } from '../../dist/sdk/index.js';

const [url, key, worker, callsText, everyText] = process.argv.slice(2);
const calls = Number(callsText);
const every = Number(everyText);
const flags = createFlags({ url }, { metrics: { flushIntervalMs: 600_000, bucketMs: 1000 } });
await flags.ready();
const compat = createCompat(flags, { flushIntervalMs: 600_000 });
// Start the Prometheus series now: they count from their first use, and tell when every comparison is recorded.
await flags.metricsText();
const totals = { calls: 0, mismatches: { new: 0, old: 0 }, comparisons: { new: 0, old: 0 } };
const pending = [];
for (let i = 0; i < calls; i++) {
  const unit = `w${worker}-u${i}`;
  const cohort = flags.cohort(key, unit);
  const differ = i % every === 0;
  const value = await compat.shadow(key, unit, {
    control: async () => ({ id: i, name: 'Ada Lovelace' }),
    candidate: async () => ({ id: i, name: differ ? 'Ada' : 'Ada Lovelace' }),
    sample: 1,
  });
  if (value.id !== i) throw new Error('control result changed');
  totals.calls++;
  totals.comparisons[cohort]++;
  if (differ) totals.mismatches[cohort]++;
  // Yield now and then, so candidates run beside the calls, as in an application.
  if (i % 50 === 0) pending.push(new Promise((r) => setImmediate(r)));
}
await Promise.all(pending);
// Every comparison is recorded once its candidate is done; wait for the last ones, then flush.
for (const giveUp = Date.now() + 60_000; ; ) {
  if (Date.now() > giveUp) throw new Error('comparisons never all recorded');
  const text = await flags.metricsText();
  const counted = [...text.matchAll(/^ferry_shadow_comparisons_total\{[^}]*\} (\d+)/gm)].reduce((a, m) => a + Number(m[1]), 0);
  if (counted === calls) break;
  await new Promise((r) => setTimeout(r, 10));
}
if (!(await compat.flush())) throw new Error('flush failed');
await compat.close();
await flags.close();
console.log(`done ${JSON.stringify(totals)}`);
process.exit(0);
