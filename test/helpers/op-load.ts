/**
 * The concurrent-load harness of the operation tests: application sessions
 * writing while an operation's parts run the way ferry runs them, with every
 * statement's start, end and failure kept.
 */
import { afterAll, expect } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { RETRYABLE_SQLSTATES, sqlState } from '../../src/errors.js';
import type { OpPart, SqlPart } from '../../src/operations/types.js';
import { createServerDatabase } from './databases.js';

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const sqlParts = (parts: OpPart[]) => parts.filter((p): p is SqlPart => p.kind === 'sql');

/** A fresh database on the server with `fixture` run in it; dropped after the file. */
export async function serverDb(fixture: string): Promise<{ db: Database; url: string }> {
  const created = await createServerDatabase();
  cleanups.push(created.drop);
  const db = await openServer({ url: created.url });
  cleanups.push(() => db.close());
  await db.exec(fixture);
  return { db, url: created.url };
}

/** Another application session on the same database, closed after the file. */
export async function session(url: string, applicationName: string): Promise<Database> {
  const db = await openServer({ url, applicationName });
  cleanups.push(() => db.close());
  return db;
}

/** Wait until the session named `applicationName` is blocked on a lock. */
export async function waitingOnLock(watch: Database, applicationName: string): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    const { rows } = await watch.query(
      `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock' AND datname = current_database()`,
      [applicationName],
    );
    if (rows.length > 0) return;
    await sleep(10);
  }
  throw new Error(`${applicationName} never waited on a lock`);
}

/** Run parts' SQL as ferry does: each under a short lock_timeout, retried with backoff on lock timeouts, cleanup before a retry. */
export async function runLikeFerry(db: Database, parts: OpPart[], direction: 'forward' | 'rollback'): Promise<number> {
  let retries = 0;
  for (const part of direction === 'forward' ? sqlParts(parts) : sqlParts(parts).reverse()) {
    const statements = direction === 'forward' ? part.forward : part.rollback;
    for (let attempt = 0; ; attempt++) {
      try {
        if (part.transaction) {
          await db.transaction(async (tx) => {
            await tx.exec(`SET LOCAL lock_timeout = '100ms'`);
            for (const s of statements) await tx.exec(s);
          });
        } else {
          await db.exec(`SET lock_timeout = '100ms'`);
          try {
            for (const s of statements) await db.exec(s);
          } finally {
            await db.exec('RESET lock_timeout');
          }
        }
        break;
      } catch (err) {
        if (!RETRYABLE_SQLSTATES.has(sqlState(err) ?? '') || attempt >= 40) throw err;
        retries++;
        if (direction === 'forward') for (const s of part.cleanup ?? []) await db.exec(s).catch(() => {});
        await sleep(10 * 2 ** Math.min(attempt, 4));
      }
    }
  }
  return retries;
}

/** One statement of a load session: its `i`-th, in session `k` (0–3). */
export type LoadStatement = (i: number, k: number) => { sql: string; params?: unknown[] };

/** Four application sessions running `statement` in a loop; every statement's start and end are kept, and every failure. */
export async function startLoad(url: string, statement: LoadStatement) {
  const sessions = await Promise.all([1, 2, 3, 4].map(() => openServer({ url, applicationName: 'app-load' })));
  const runs: { start: number; end: number }[] = [];
  const failures: string[] = [];
  let stopping = false;
  const loops = sessions.map(async (s, k) => {
    for (let i = 0; !stopping; i++) {
      const start = performance.now();
      const { sql, params } = statement(i, k);
      try {
        await s.query(sql, params);
        runs.push({ start, end: performance.now() });
      } catch (err) {
        failures.push(`${sql}: ${(err as Error).message}`);
      }
    }
  });
  let stopped: Promise<void> | undefined;
  return {
    failures,
    finished: () => runs.length,
    /** Statements whose run overlapped `during`, and how many finished inside it. */
    async around(during: () => Promise<unknown>): Promise<{ overlapping: number; finished: number }> {
      const from = performance.now();
      await during();
      const to = performance.now();
      return { overlapping: runs.filter((r) => r.end >= from && r.start <= to).length, finished: runs.filter((r) => r.end >= from && r.end <= to).length };
    },
    stop() {
      stopping = true;
      stopped ??= Promise.all(loops)
        .then(() => Promise.all(sessions.map((s) => s.close())))
        .then(() => {});
      return stopped;
    },
  };
}

export type Load = Awaited<ReturnType<typeof startLoad>>;

/** Wait until `n` more load statements have finished, so the load is running before and after each phase. */
export async function warm(load: Load, n = 20): Promise<void> {
  const target = load.finished() + n;
  for (let i = 0; i < 1000 && load.finished() < target; i++) await sleep(5);
  expect(load.finished()).toBeGreaterThanOrEqual(target);
}

/** After the last phase: the load ran on, stopped with no failed statement, and overlapped every phase. */
export async function expectCleanLoad(load: Load, phases: Record<string, { overlapping: number }>): Promise<void> {
  await warm(load);
  await load.stop();
  expect(load.failures).toEqual([]);
  for (const [phase, seen] of Object.entries(phases)) expect(seen.overlapping, `load statements during ${phase}`).toBeGreaterThan(0);
}
