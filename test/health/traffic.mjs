// A separate application process for the health tests:
//   node traffic.mjs <url> '<plan JSON>'
// plan: { serve?: boolean, waitForGo?: boolean, flags: [{ key, new: Load, old: Load }] } with
// Load = { requests, errorEvery?, dataErrorEvery?, latencyFactor? }. It measures synthetic requests
// with the SDK's record() (cohort given, so the counts are exact), or with observe() when `observe` is
// set (cohort from the flag; fn throws for every errorEvery-th). Prints "ready <port>", then after the
// traffic (and a flush) "sent <JSON totals>". With `serve` it keeps serving /metrics until SIGTERM.
import { createServer } from 'node:http';
import { createInterface } from 'node:readline';
import { createFlags } from '../../dist/sdk/index.js';

const [url, planText] = process.argv.slice(2);
const plan = JSON.parse(planText);
const flags = createFlags({ url }, { heartbeatMs: 1000, metrics: { flushIntervalMs: 100, bucketMs: 1000 } });
await flags.ready();
let port = 0;
let server;
if (plan.serve) {
  server = createServer(flags.metricsHandler());
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = server.address().port;
}
console.log(`ready ${port}`);
if (plan.waitForGo) {
  const lines = createInterface({ input: process.stdin });
  await new Promise((resolve) => lines.on('line', (l) => l.trim() === 'go' && resolve()));
}

const totals = {};
let unit = 0;
for (const f of plan.flags) {
  const t = { new: { requests: 0, errors: 0, dataErrors: 0 }, old: { requests: 0, errors: 0, dataErrors: 0 } };
  totals[f.key] = t;
  if (f.observe) {
    for (let i = 0; i < f.observe.requests; i++) {
      const id = `u${process.pid}-${unit++}`;
      const fail = f.observe.errorEvery > 0 && i % f.observe.errorEvery === 0;
      try {
        flags.observe(f.key, id, (enabled) => {
          const c = t[enabled ? 'new' : 'old'];
          c.requests++;
          if (fail) {
            c.errors++;
            throw new Error('boom');
          }
          return enabled;
        });
      } catch {}
    }
    continue;
  }
  for (const cohort of ['new', 'old']) {
    const load = f[cohort];
    for (let i = 1; i <= load.requests; i++) {
      const error = (load.errorEvery ?? 0) > 0 && i % load.errorEvery === 0;
      const dataError = (load.dataErrorEvery ?? 0) > 0 && i % load.dataErrorEvery === 0;
      const latencyMs = (10 + (i % 10)) * (load.latencyFactor ?? 1);
      flags.record(f.key, `u${unit++}`, { latencyMs, error, dataError, cohort });
      t[cohort].requests++;
      if (error) t[cohort].errors++;
      if (dataError) t[cohort].dataErrors++;
    }
  }
}
const flushed = await flags.flush();
console.log(`sent ${JSON.stringify({ flushed, totals })}`);
if (plan.serve) {
  process.on('SIGTERM', () => server.close(() => flags.close().then(() => process.exit(0))));
} else {
  await flags.close();
}
