import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { assessHealth, healthSettingsOf, PrometheusSource, SdkMetricSource } from '../../src/health/index.js';
import { ensureState } from '../../src/state/store.js';
import { serverAvailable } from '../helpers/databases.js';
import { setFlag } from '../helpers/flags.js';
import { until } from '../helpers/process.js';
import { prometheusBinary, startPrometheus } from '../helpers/prometheus.js';
import { cleanups, serverTarget } from './fixtures.js';

const TRAFFIC = fileURLToPath(new URL('./traffic.mjs', import.meta.url));

const BIN = prometheusBinary();
if (!BIN && !process.env.CI) console.warn('[ferry tests] skipping the Prometheus test: no prometheus binary (apt-get install prometheus); in CI this fails');

/** The traffic process, serving /metrics and waiting for "go". */
function app(url: string, plan: unknown): { child: ChildProcessWithoutNullStreams; out: () => string } {
  const child = spawn(process.execPath, [TRAFFIC, url, JSON.stringify(plan)]);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  cleanups.push(async () => void child.kill('SIGKILL'));
  return { child, out: () => out };
}

const SCENARIOS = [
  { key: 'green.v2', new: { requests: 400 }, old: { requests: 4000 }, colour: 'green' },
  { key: 'slow.v2', new: { requests: 400, latencyFactor: 1.3 }, old: { requests: 4000 }, colour: 'yellow' },
  { key: 'failing.v2', new: { requests: 400, errorEvery: 20 }, old: { requests: 4000 }, colour: 'red' },
  { key: 'quiet.v2', new: { requests: 10 }, old: { requests: 4000 }, colour: 'no-data' },
];

describe.runIf((await serverAvailable()) && (BIN !== undefined || process.env.CI))('Prometheus as a metric source', () => {
  it('gives the same decision as the built-in source on the same traffic (real Prometheus scraping /metrics)', async () => {
    if (!BIN) throw new Error('prometheus is not installed: CI must install the Debian package prometheus (.ci/run)');
    const { url, db } = await serverTarget();
    await ensureState(db);
    for (const s of SCENARIOS) await setFlag(db, s.key, true, 10);
    const proc = app(url, { serve: true, waitForGo: true, flags: SCENARIOS.map(({ key, new: n, old }) => ({ key, new: n, old })) });
    await until('the app to serve /metrics', () => /ready \d+/.test(proc.out()));
    const port = Number(/ready (\d+)/.exec(proc.out())?.[1]);
    const prom = new PrometheusSource({ url: await startPrometheus(BIN, `127.0.0.1:${port}`) });
    const now = () => Date.now() / 1000;
    // Zero-valued series first (the SDK exposes every flag of its snapshot), so increase() sees each counter start.
    await until('Prometheus to scrape the zero series', async () => (await prom.query('count(ferry_requests_total)', now())) === SCENARIOS.length * 2);
    const from = new Date(Date.now() - 5000);
    proc.child.stdin.write('go\n');
    await until('the traffic to be sent', () => proc.out().includes('sent '));
    const sent = SCENARIOS.reduce((n, s) => n + s.new.requests + s.old.requests, 0);
    await until('Prometheus to scrape the final counts', async () => (await prom.query('sum(ferry_requests_total)', now())) === sent);
    const window = { from, to: new Date() };
    const sdk = new SdkMetricSource(db);
    for (const s of SCENARIOS) {
      const target = { id: `m-${s.key}`, flag: s.key, settings: healthSettingsOf({ thresholds: { minRequests: 30 } }) };
      const builtIn = await assessHealth(db, target, sdk, { checkDataErrors: 0, window });
      const viaProm = await assessHealth(db, target, prom, { checkDataErrors: 0, window });
      expect(builtIn.colour, s.key).toBe(s.colour);
      expect(viaProm.colour, s.key).toBe(s.colour);
      expect(
        viaProm.metrics.map((m) => [m.metric, m.colour]),
        s.key,
      ).toEqual(builtIn.metrics.map((m) => [m.metric, m.colour]));
      const rate = (m: typeof builtIn) => m.metrics.find((v) => v.metric === 'errorRate')?.value;
      if (s.colour !== 'no-data') expect(rate(viaProm), s.key).toBeCloseTo(rate(builtIn) as number, 6);
    }
    proc.child.kill('SIGTERM');
  });
});
