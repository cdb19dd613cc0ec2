import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import pg from 'pg';
import { FerryError } from '../errors.js';
import type { Database } from './database.js';
import { copyPglite } from './pglite.js';
import { quoteIdent } from './quote.js';
import { connectError, openServer } from './server.js';

const run = promisify(execFile);

/** A throwaway copy of a target database, for rehearsals. */
export interface ScratchCopy {
  db: Database;
  /** How it was made, for the report. */
  method: string;
  /** Close and delete the copy. */
  dispose(): Promise<void>;
}

/** pg_dump output as plain SQL our driver can run: psql meta-commands (\restrict …) removed. */
function runnableDump(text: string): string {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('\\'))
    .join('\n');
}

async function pgDump(url: string, args: string[], password: string | undefined): Promise<string> {
  try {
    const env = password === undefined ? process.env : { ...process.env, PGPASSWORD: password };
    const { stdout } = await run('pg_dump', ['--no-owner', '--no-privileges', ...args, url], { maxBuffer: 1 << 30, env });
    return runnableDump(stdout);
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new FerryError(
        'E_CONFIG',
        'pg_dump is not installed, and a rehearsal on a server needs it to copy the schema',
        'install the PostgreSQL client tools (Debian: apt-get install postgresql-client)',
      );
    }
    throw new FerryError('E_CONNECT', `pg_dump failed: ${e.stderr?.trim() || e.message}`, 'check that this user may read the whole schema');
  }
}

/**
 * A scratch copy of the server database at `url`: a new database on the same
 * server holding its schema (pg_dump --schema-only) and ferry's own state.
 */
async function serverCopy(url: string, password: string | undefined): Promise<ScratchCopy> {
  const name = `ferry_rehearse_${Date.now().toString(36)}_${Math.random().toString(36).slice(2, 8)}`;
  const adminUrl = new URL(url);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client({ connectionString: adminUrl.toString(), ...(password === undefined ? {} : { password }) });
  try {
    await admin.connect();
    await admin.query(`CREATE DATABASE ${quoteIdent(name)}`);
  } catch (err) {
    await admin.end().catch(() => {});
    const state = (err as { code?: string }).code;
    if (state === '42501') {
      throw new FerryError(
        'E_CONNECT',
        'this user may not create databases, which a rehearsal on the server needs',
        'run rehearse as a user with CREATEDB, or against the local environment',
      );
    }
    throw connectError(err, adminUrl.host);
  }
  const dispose = async () => {
    await admin.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`).catch(() => {});
    await admin.end().catch(() => {});
  };
  try {
    const schema = await pgDump(url, ['--schema-only'], password);
    const state = await pgDump(url, ['--data-only', '--inserts', '--schema=ferry'], password);
    const copyUrl = new URL(url);
    copyUrl.pathname = `/${name}`;
    const loader = await openServer({ url: copyUrl.toString(), ...(password === undefined ? {} : { password }) });
    try {
      await loader.exec(schema);
      await loader.exec(`ALTER TABLE IF EXISTS ferry.events DISABLE TRIGGER USER; ${state}; ALTER TABLE IF EXISTS ferry.events ENABLE TRIGGER USER`);
    } finally {
      await loader.close();
    }
    const db = await openServer({ url: copyUrl.toString(), applicationName: 'ferry rehearse', ...(password === undefined ? {} : { password }) });
    return {
      db,
      method: `schema copy in scratch database ${name} (pg_dump --schema-only, plus ferry's state)`,
      dispose: async () => {
        await db.close();
        await dispose();
      },
    };
  } catch (err) {
    await dispose();
    throw err;
  }
}

/** A scratch copy of `db` (schema and ferry state on a server; everything for PGlite). */
export async function scratchCopy(db: Database, server?: { url: string; password?: string }): Promise<ScratchCopy> {
  if (db.kind === 'pglite') {
    const copy = await copyPglite(db);
    return { ...copy, method: 'PGlite copy of the local database in a temporary directory (schema and data)' };
  }
  if (!server) throw new Error('scratchCopy of a server database needs its URL');
  return serverCopy(server.url, server.password);
}
