import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { announceServing, findMigration, loadWorkspace, openWorkspace, type Workspace, type WorkspaceOptions } from '../workflow/workspace.js';
import { createApp } from './app.js';
import type { Jobs, ServeContext } from './context.js';
import { changeHub } from './live.js';
import { openLiveSource } from './live-source.js';
import { sessionPool } from './pool.js';
import { Sessions, serveToken } from './security.js';

/** Options of {@link startServer}: the workspace's, and where to listen. */
export interface ServeOptions extends WorkspaceOptions {
  /** Address to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /** Port; default 4100; 0 picks a free one. */
  port?: number;
  /** The bearer token actions need; default FERRY_SERVE_TOKEN, else a random one (returned). */
  token?: string;
  /** Database sessions for concurrent requests on a server (the embedded database has one); default 4. */
  sessions?: number;
}

/** A running `ferry serve`. */
export interface RunningServer {
  /** e.g. http://127.0.0.1:4100 */
  readonly url: string;
  readonly token: string;
  /** True when the token was generated (print it: nobody else knows it). */
  readonly tokenGenerated: boolean;
  readonly pid: number;
  readonly ctx: ServeContext;
  /** Stop listening, end open streams and close every database session. */
  close(): Promise<void>;
}

const DEFAULT_PORT = 4100;
const MIGRATIONS_TTL_MS = 1000;
const MIN_TOKEN_LENGTH = 16;

/** Validate the options before anything is opened. */
function checkOptions(opts: ServeOptions): { host: string; port: number } {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new FerryError('E_USAGE', `not a port: ${String(opts.port)}`, 'give --port a whole number from 1 to 65535 (0 picks a free one)');
  }
  if (host.trim() === '' || /[\s/]/.test(host))
    throw new FerryError('E_USAGE', `not a host address: ${JSON.stringify(host)}`, 'give --host an address such as 127.0.0.1 or 0.0.0.0');
  if (opts.token !== undefined && opts.token !== '' && opts.token.length < MIN_TOKEN_LENGTH) {
    throw new FerryError(
      'E_CONFIG',
      `FERRY_SERVE_TOKEN is too short (${opts.token.length} characters)`,
      `use at least ${MIN_TOKEN_LENGTH} random characters, or unset it to have one generated`,
    );
  }
  return { host, port };
}

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

function jobRunner(): Jobs {
  const running = new Map<string, AbortController>();
  const errors = new Map<string, string>();
  return {
    start(key, fn) {
      if (running.has(key)) return false;
      const ac = new AbortController();
      running.set(key, ac);
      errors.delete(key);
      fn(ac.signal)
        .catch((err: unknown) => {
          errors.set(key, err instanceof Error ? err.message : String(err));
        })
        .finally(() => running.delete(key));
      return true;
    },
    running: (key) => running.has(key),
    lastError: (key) => errors.get(key),
  };
}

/**
 * Start `ferry serve` for one environment: the dashboard, the JSON API, live updates,
 * /metrics and the flag relay. On the embedded database this process owns it for as long
 * as it runs; other ferry commands on the project then refuse, naming the URL.
 */
export async function startServer(opts: ServeOptions = {}): Promise<RunningServer> {
  const given = opts.token ?? process.env.FERRY_SERVE_TOKEN;
  const { host, port } = checkOptions({ ...opts, ...(given === undefined ? {} : { token: given }) });
  const { token, generated } = serveToken(given);
  const ws: Workspace = await loadWorkspace(opts);
  const primary = await openWorkspace(ws, 'ferry serve');
  const cleanups: (() => Promise<void>)[] = [() => primary.close()];
  const closeAll = async () => {
    for (const c of cleanups.reverse()) await c().catch(() => {});
  };
  try {
    // The embedded database is one session, shared; a server gets a small pool beside the listening session.
    const pool = primary.kind === 'pglite' ? undefined : sessionPool(() => openWorkspace(ws, 'ferry serve'), opts.sessions ?? 4);
    if (pool) cleanups.push(() => pool.close());
    const hub = changeHub();
    // The listening session: live updates and the flag relay. Replaced when lost; closing the source closes it.
    const live = await openLiveSource(primary, () => openWorkspace(ws, 'ferry serve'), hub);
    cleanups.shift();
    cleanups.push(() => live.close());

    let migrations: Migration[] = ws.migrations;
    let loadedAt = Date.now();
    const current = async () => {
      if (Date.now() - loadedAt > MIGRATIONS_TTL_MS) {
        migrations = (await loadWorkspace(opts)).migrations;
        loadedAt = Date.now();
      }
      return migrations;
    };
    let url = '';
    const ctx: ServeContext = {
      ws,
      withDb: (fn) => (pool ? pool.use(fn) : fn(primary)),
      async withOwnDb(fn) {
        if (primary.kind === 'pglite') return fn(primary);
        const db = await openWorkspace(ws, 'ferry serve job');
        try {
          return await fn(db);
        } finally {
          await db.close();
        }
      },
      migrations: current,
      migration: async (id) => findMigration({ migrations: await current(), project: ws.project }, id),
      flags: live.flags,
      hub,
      jobs: jobRunner(),
      token,
      get url() {
        return url;
      },
      startedAt: new Date(),
    };
    const app = createApp(ctx, { loopback: isLoopback(host), sessions: new Sessions() });
    const server: ServerType = await new Promise((resolve, reject) => {
      const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolve(s));
      s.once('error', (err: NodeJS.ErrnoException) =>
        reject(
          err.code === 'EADDRINUSE'
            ? new FerryError('E_USAGE', `port ${port} on ${host} is already in use`, 'pick another with --port, or stop what listens there')
            : new FerryError('E_USAGE', `cannot listen on ${host}:${port}: ${err.message}`, 'check --host and --port'),
        ),
      );
    });
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          server.close(() => resolve());
          if ('closeAllConnections' in server) server.closeAllConnections();
        }),
    );
    const address = server.address() as AddressInfo;
    const shown = isLoopback(host) || host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
    url = `http://${shown.includes(':') ? `[${shown}]` : shown}:${address.port}`;
    announceServing(primary, url);
    return {
      url,
      token,
      tokenGenerated: generated,
      pid: process.pid,
      ctx,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
