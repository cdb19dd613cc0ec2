import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe } from 'vitest';
import type { Database, DriverKind } from '../../src/db/database.js';
import { openPglite } from '../../src/db/pglite.js';
import { quoteIdent } from '../../src/db/quote.js';
import { openServer } from '../../src/db/server.js';

/** The PostgreSQL server the tests use; its `test` database is only used to create throwaway ones. */
export const SERVER_URL = process.env.FERRY_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

let serverUp: boolean | undefined;

/** Whether the server answers. In CI its absence is a failure, never a skip. */
export async function serverAvailable(): Promise<boolean> {
  if (serverUp !== undefined) return serverUp;
  const c = new pg.Client({ connectionString: SERVER_URL, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.end();
    serverUp = true;
  } catch (err) {
    if (process.env.CI) throw new Error(`PostgreSQL server not reachable at ${SERVER_URL} in CI: ${String(err)}`);
    console.warn(`[ferry tests] skipping server tests: no PostgreSQL at ${SERVER_URL} (${String(err)})`);
    serverUp = false;
  }
  return serverUp;
}

/** A throwaway database on the server; returns its URL and a function that drops it. */
export async function createServerDatabase(prefix = 'ferry_t'): Promise<{ url: string; name: string; drop: () => Promise<void> }> {
  const name = `${prefix}_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: SERVER_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  await admin.end();
  const u = new URL(SERVER_URL);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    drop: async () => {
      const c = new pg.Client({ connectionString: SERVER_URL });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`);
      await c.end();
    },
  };
}

let pgliteTemplate: Promise<string> | undefined;

/** An initialised, empty PGlite data directory made once per test process; copies are much faster than initdb. */
function emptyPgliteDir(): Promise<string> {
  pgliteTemplate ??= (async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'ferry-pglite-template-')), 'db');
    const db = await openPglite({ dataDir: dir });
    await db.query('CHECKPOINT');
    await db.close();
    return dir;
  })();
  return pgliteTemplate;
}

/** A fresh, empty target of one driver kind, plus how to reach it again from another process. */
export interface TestTarget {
  kind: DriverKind;
  /** Open (another) session on the same database. */
  open(): Promise<Database>;
  /** Server URL, for server targets. */
  url?: string;
  /** PGlite data directory, for embedded targets. */
  dataDir?: string;
}

/** Run `fn` on a session of its own on `target`, closed after (PGlite allows one process at a time, and the CLI is another). */
export async function withDb<T>(target: TestTarget, fn: (db: Database) => Promise<T>): Promise<T> {
  const db = await target.open();
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

/** The driver matrix every engine test runs on. */
export interface DriverSuite {
  kind: DriverKind;
  /** A new empty database for one test; cleaned up after the file. */
  fresh(): Promise<TestTarget>;
}

/**
 * Run the same suite against both drivers: embedded PGlite (persisted in a
 * temp directory) and the PostgreSQL server (one database per `fresh()` call).
 */
export function forEachDriver(title: string, body: (suite: DriverSuite) => void): void {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const c of cleanups.splice(0)) await c().catch(() => {});
  });
  describe(`${title} [pglite]`, () => {
    body({
      kind: 'pglite',
      async fresh() {
        const dir = mkdtempSync(join(tmpdir(), 'ferry-pglite-'));
        cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
        const dataDir = join(dir, 'db');
        cpSync(await emptyPgliteDir(), dataDir, { recursive: true });
        return { kind: 'pglite', dataDir, open: () => openPglite({ dataDir }) };
      },
    });
  });
  describe(`${title} [server]`, async () => {
    const up = await serverAvailable();
    describe.runIf(up)('', () => {
      body({
        kind: 'server',
        async fresh() {
          const db = await createServerDatabase();
          cleanups.push(db.drop);
          return { kind: 'server', url: db.url, open: () => openServer({ url: db.url }) };
        },
      });
    });
  });
}

/** A fresh embedded target outside a driver suite (its directory goes with the run's TMPDIR). */
export async function emptyPgliteTarget(): Promise<TestTarget> {
  const dataDir = join(mkdtempSync(join(tmpdir(), 'ferry-pglite-')), 'db');
  cpSync(await emptyPgliteDir(), dataDir, { recursive: true });
  return { kind: 'pglite', dataDir, open: () => openPglite({ dataDir }) };
}

const serverDrops: (() => Promise<void>)[] = [];

/**
 * A fresh database on the server outside a driver suite, dropped after the file. In CI a missing
 * server fails (serverAvailable throws); elsewhere the caller gets undefined and skips with the printed reason.
 */
export async function emptyServerTarget(): Promise<TestTarget | undefined> {
  if (!(await serverAvailable())) return undefined;
  if (serverDrops.length === 0) {
    afterAll(async () => {
      for (const drop of serverDrops.splice(0)) await drop().catch(() => {});
    });
  }
  const db = await createServerDatabase();
  serverDrops.push(db.drop);
  return { kind: 'server', url: db.url, open: () => openServer({ url: db.url }) };
}
