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
        return await fn(db);
      } finally {
        release(db);
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
