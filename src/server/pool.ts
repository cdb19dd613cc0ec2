import { FerryError } from '../errors.js';
import { sessionAlive } from '../workflow/watch.js';
import type { Database } from '../workflow/workspace.js';

/**
 * Up to `size` database sessions shared by concurrent requests: one session runs one request's
 * work at a time (a session is one connection, and its transactions cannot nest). Sessions open on
 * first need and stay open until `close`.
 */
export function sessionPool(open: () => Promise<Database>, size: number) {
  const idle: Database[] = [];
  const all = new Set<Database>();
  const waiting: ((db: Database) => void)[] = [];
  let opening = 0;
  let closed = false;

  async function acquire(): Promise<Database> {
    if (closed) throw new Error('ferry serve is shutting down');
    const db = idle.pop();
    if (db) return db;
    if (all.size + opening < size) {
      opening += 1;
      try {
        const fresh = await open();
        all.add(fresh);
        return fresh;
      } finally {
        opening -= 1;
      }
    }
    return new Promise((resolve) => waiting.push(resolve));
  }

  function release(db: Database): void {
    const next = waiting.shift();
    if (next) next(db);
    else idle.push(db);
  }

  return {
    async use<T>(fn: (db: Database) => Promise<T>): Promise<T> {
      const db = await acquire();
      try {
        const out = await fn(db);
        release(db);
        return out;
      } catch (err) {
        // A session whose connection died (a PostgreSQL restart, a killed backend) is dropped, not handed out again.
        if (err instanceof FerryError || (await sessionAlive(db))) {
          release(db);
          throw err;
        }
        all.delete(db);
        await db.close().catch(() => {});
        const next = waiting.shift();
        if (next) acquire().then(next, () => waiting.unshift(next));
        throw new FerryError(
          'E_CONNECT',
          `ferry serve lost a database session: ${err instanceof Error ? err.message : String(err)}`,
          'retry: the next request opens a new session',
          undefined,
          {
            cause: err,
          },
        );
      }
    },
    async close(): Promise<void> {
      closed = true;
      await Promise.all([...all].map((db) => db.close().catch(() => {})));
      all.clear();
      idle.length = 0;
    },
  };
}
