import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { until } from './process.js';

/** The prometheus binary (Debian package `prometheus`), or undefined. */
export function prometheusBinary(): string | undefined {
  if (process.env.PROMETHEUS_BIN) return process.env.PROMETHEUS_BIN;
  try {
    return execFileSync('sh', ['-c', 'command -v prometheus'], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A free port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const stops: (() => void)[] = [];

/** A real Prometheus on loopback, scraping `target` (host:port, path `metricsPath`) every second, with a throwaway config and data directory; stopped after the file. */
export async function startPrometheus(bin: string, target: string, metricsPath = '/metrics'): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-prom-'));
  const port = await freePort();
  writeFileSync(
    join(dir, 'prometheus.yml'),
    `global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: app\n    metrics_path: ${metricsPath}\n    static_configs:\n      - targets: ['${target}']\n`,
  );
  const child = spawn(bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`,
    `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  let log = '';
  child.stderr.on('data', (d) => {
    log += d;
  });
  if (stops.length === 0) {
    afterAll(() => {
      for (const stop of stops.splice(0)) stop();
    });
  }
  stops.push(() => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });
  const url = `http://127.0.0.1:${port}`;
  await until('Prometheus to be ready', async () => {
    if (child.exitCode !== null) throw new Error(`prometheus exited ${child.exitCode}:\n${log}`);
    return (await fetch(`${url}/-/ready`).catch(() => undefined))?.ok === true;
  });
  return url;
}
