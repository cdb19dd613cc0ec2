import { hostname } from 'node:os';
import type { Connection } from '../project/config.js';
import type { Database } from './database.js';
import { openPglite } from './pglite.js';
import { openServer } from './server.js';

/** Open the database of a resolved environment. */
export async function openConnection(conn: Connection, opts: { lockWaitMs: number; purpose?: string }): Promise<Database> {
  if (conn.driver === 'pglite') return openPglite({ dataDir: conn.dataDir, lockWaitMs: opts.lockWaitMs });
  const applicationName = `ferry ${opts.purpose ?? ''} ${hostname()} pid ${process.pid}`.replace(/\s+/g, ' ').slice(0, 63);
  return openServer({ url: conn.url, applicationName, ...(conn.password === undefined ? {} : { password: conn.password }) });
}
