import { describe, expect, it } from 'vitest';
import { emptyServerTarget } from '../helpers/databases.js';
import { until } from '../helpers/process.js';
import { prometheusBinary, startPrometheus } from '../helpers/prometheus.js';
import { SPLIT, servedProject, USERS } from './reads-fixture.js';

// ferry serve's /metrics: migration state for Prometheus, scraped by a real Prometheus.

const BIN = prometheusBinary();
if (!BIN && !process.env.CI)
  console.warn('[ferry tests] skipping the Prometheus scrape of /metrics: no prometheus binary (apt-get install prometheus); in CI this fails');

describe('/metrics', () => {
  it('exposes phase, rollout percentage, verify failures and data errors per migration, scraped by a real Prometheus', async () => {
    const target = await emptyServerTarget();
    if (!target) return console.warn('[ferry tests] skipped: no PostgreSQL server (outside CI only)');
    const s = await servedProject(target);
    const r = await s.request('/metrics');
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = (line: string) => expect(r.text.split('\n')).toContain(line);
    // The fixture: users expanded, the split in canary at 50 % with one row its checksum check finds wrong.
    m(`ferry_migration_phase{migration="${SPLIT}",phase="canary"} 1`);
    m(`ferry_migration_phase{migration="${SPLIT}",phase="rolling"} 0`);
    m(`ferry_migration_phase{migration="${USERS}",phase="expanded"} 1`);
    m(`ferry_rollout_percentage{migration="${SPLIT}",flag="split-names"} 50`);
    m(`ferry_verify_failed_checks{migration="${SPLIT}"} 1`);
    m(`ferry_verify_data_errors{migration="${SPLIT}"} 1`);
    m(`ferry_migration_workflow_step{migration="${SPLIT}"} 5`);

    if (!BIN) throw new Error('prometheus is not installed: CI must install the Debian package prometheus (.ci/run)');
    const prom = await startPrometheus(BIN, new URL(s.url).host);
    let value: string | undefined;
    await until('Prometheus to scrape ferry serve', async () => {
      const q = await fetch(`${prom}/api/v1/query?query=${encodeURIComponent(`ferry_rollout_percentage{migration="${SPLIT}"}`)}`);
      const body = (await q.json()) as { data: { result: { value: [number, string] }[] } };
      value = body.data.result[0]?.value[1];
      return value !== undefined;
    });
    expect(value).toBe('50');
  });
});
