import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { createServer, type Server, Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { bucketOf, inRollout } from '../../src/bucket.js';
import { openServer } from '../../src/db/server.js';
import { createFlags } from '../../src/sdk/index.js';
import { ensureState } from '../../src/state/store.js';
import { createServerDatabase, serverAvailable } from '../helpers/databases.js';
import { until } from '../helpers/process.js';

const SUBSCRIBER = fileURLToPath(new URL('./subscriber.mjs', import.meta.url));

/** Undone last-first: processes and clients end before their database is dropped. */
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** A fresh database with ferry's state installed, and a plain client on it (another operator's session). */
async function freshTarget(): Promise<{ url: string; admin: pg.Client }> {
  const target = await createServerDatabase();
  cleanups.push(target.drop);
  const db = await openServer({ url: target.url });
  await ensureState(db);
  await db.close();
  const admin = new pg.Client({ connectionString: target.url });
  admin.on('error', () => {});
  await admin.connect();
  cleanups.push(() => admin.end());
  return { url: target.url, admin };
}

async function setFlag(c: pg.Client, key: string, enabled: boolean, percentage: number): Promise<void> {
  await c.query(
    `INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, $2, $3, 'test')
     ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage,
       updated_at = now(), version = ferry.flags.version + 1`,
    [key, enabled, percentage],
  );
}

function subscriber(url: string, key: string, unit: string): { child: ChildProcessWithoutNullStreams; out: () => string } {
  const child = spawn(process.execPath, [SUBSCRIBER, url, key, unit]);
  let out = '';
  child.stdout.on('data', (d) => {
    out += d;
  });
  child.stderr.on('data', (d) => {
    out += d;
  });
  cleanups.push(async () => {
    child.kill('SIGKILL');
  });
  return { child, out: () => out };
}

/** A real TCP proxy in front of the server that the test can cut (refuse and drop every connection) and restore. */
async function tcpProxy(upstreamPort: number): Promise<{ port: number; cut: () => Promise<void>; restore: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  let server: Server;
  const listen = (port: number) =>
    new Promise<number>((resolve, reject) => {
      server = createServer((client) => {
        const upstream = new Socket();
        upstream.connect(upstreamPort, '127.0.0.1');
        for (const s of [client, upstream]) {
          sockets.add(s);
          s.on('error', () => {});
          s.on('close', () => {
            sockets.delete(s);
            client.destroy();
            upstream.destroy();
          });
        }
        client.pipe(upstream);
        upstream.pipe(client);
      });
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        const addr = server.address();
        resolve(typeof addr === 'object' && addr ? addr.port : port);
      });
    });
  const port = await listen(0);
  const cut = async () => {
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of sockets) s.destroy();
    });
  };
  cleanups.push(cut);
  return { port, cut, restore: async () => void (await listen(port)) };
}

describe('SDK across processes on the server', async () => {
  const up = await serverAvailable();

  it.runIf(up)('a flag change reaches 5 separate SDK processes', async () => {
    const { url, admin } = await freshTarget();
    await setFlag(admin, 'new-checkout', false, 100);
    const children = Array.from({ length: 5 }, (_, i) => subscriber(url, 'new-checkout', `user-${i}`));
    for (const c of children) await until('a subscriber to load its snapshot', () => c.out().includes('ready false'));
    await setFlag(admin, 'new-checkout', true, 100);
    for (const c of children) await until('a subscriber to see the change', () => c.out().includes('value true'));
    expect(children.every((c) => c.child.exitCode === null)).toBe(true);
  });

  it.runIf(up)('keeps answering from its snapshot while the server is unreachable and catches up when it returns', async () => {
    const { url, admin } = await freshTarget();
    await setFlag(admin, 'canary', true, 5);
    const proxy = await tcpProxy(Number(new URL(url).port || 5432));
    const proxied = new URL(url);
    proxied.host = `127.0.0.1:${proxy.port}`;
    const flags = createFlags({ url: proxied.toString() }, { heartbeatMs: 100, reconnectMinMs: 50, reconnectMaxMs: 200, connectTimeoutMs: 1000 });
    cleanups.push(() => flags.close());
    await flags.ready();
    expect(flags.status().state).toBe('connected');
    const units = Array.from({ length: 2000 }, (_, i) => `u${i}`);
    const at = (pct: number) => units.map((u) => inRollout(bucketOf('canary', u), pct));
    expect(units.map((u) => flags.isEnabled('canary', u))).toEqual(at(5));

    await proxy.cut();
    await setFlag(admin, 'canary', true, 50);
    await until('the SDK to report stale', () => flags.status().state === 'stale');
    await new Promise((r) => setTimeout(r, 500)); // several failed reconnects
    expect(units.map((u) => flags.isEnabled('canary', u))).toEqual(at(5));
    const status = flags.status();
    expect(status.state).toBe('stale');
    expect(status.lastError?.message).toBeTruthy();
    expect(status.snapshotAgeMs).toBeGreaterThanOrEqual(500);

    await proxy.restore();
    await until('the SDK to catch up', () => flags.flag('canary')?.percentage === 50);
    expect(units.map((u) => flags.isEnabled('canary', u))).toEqual(at(50));
    await until('the SDK to report connected', () => flags.status().state === 'connected');
    expect(flags.status().lastError).toBeNull();

    // And it keeps following changes after the reconnect.
    await setFlag(admin, 'canary', false, 50);
    await until('the SDK to see the kill switch', () => flags.flag('canary')?.enabled === false);
  });
});
