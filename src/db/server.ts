import { createHash } from 'node:crypto';
import pg from 'pg';
import { FerryError, sqlState } from '../errors.js';
import { sleep } from '../sleep.js';
import type { Database, Queryable, QueryOptions, QueryResult } from './database.js';
import { quoteIdent } from './quote.js';

/** Options for {@link openServer}. */
export interface ServerOptions {
  /** postgres:// URL; a password may instead come from `password`. */
  url: string;
  password?: string;
  /** Shown in pg_stat_activity so a blocked runner can say who holds a lock. */
  applicationName?: string;
  connectTimeoutMs?: number;
}

/** The URL with its password removed, safe to print. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

function toResult(r: pg.QueryResult): QueryResult {
  const out: QueryResult = { rows: r.rows, fields: (r.fields ?? []).map((f) => f.name) };
  if (r.command === 'INSERT' || r.command === 'UPDATE' || r.command === 'DELETE' || r.command === 'MERGE') {
    out.affectedRows = r.rowCount ?? 0;
  }
  return out;
}

/** The session's name for a prepared statement: derived from its text, so the same text is parsed once per session. */
const preparedNames = new Map<string, string>();
function preparedName(sql: string): string {
  let name = preparedNames.get(sql);
  if (!name) {
    name = `ferry_${createHash('sha256').update(sql).digest('hex').slice(0, 24)}`;
    preparedNames.set(sql, name);
  }
  return name;
}

function queryable(client: pg.ClientBase): Queryable {
  return {
    async query<R>(sql: string, params?: readonly unknown[], opts?: QueryOptions) {
      const values = params ? [...params] : undefined;
      const r = opts?.prepare ? await client.query({ name: preparedName(sql), text: sql, values: values ?? [] }) : await client.query(sql, values);
      return toResult(r) as QueryResult<R>;
    },
    async exec(sql: string) {
      const r = (await client.query(sql)) as pg.QueryResult | pg.QueryResult[];
      return (Array.isArray(r) ? r : [r]).map(toResult);
    },
  };
}

/** Turn a connection failure into a FerryError that says what to check. */
export function connectError(err: unknown, target: string): FerryError {
  const state = sqlState(err);
  const msg = err instanceof Error ? err.message : String(err);
  if (state === '28P01' || state === '28000' || /password/i.test(msg)) {
    return new FerryError(
      'E_CONNECT',
      `authentication failed for ${target}: ${msg}`,
      'check the user and the password (the environment variable named by passwordEnv in ferry.config.json)',
      undefined,
      { cause: err },
    );
  }
  if (state === '3D000') {
    return new FerryError('E_CONNECT', `database does not exist: ${msg}`, 'create it, or fix the database name in the URL', undefined, {
      cause: err,
    });
  }
  return new FerryError(
    'E_CONNECT',
    `cannot reach the database at ${target}: ${msg}`,
    "is the server running, and is the environment's url in ferry.config.json (or the variable its urlEnv names) right? Pick another environment with --env NAME",
    undefined,
    { cause: err },
  );
}

/** Describe the sessions holding advisory lock `key`, for "who holds it" messages. */
async function advisoryHolder(db: Queryable, key: bigint): Promise<string> {
  const hi = Number((BigInt.asUintN(64, key) >> 32n) & 0xffffffffn);
  const lo = Number(BigInt.asUintN(64, key) & 0xffffffffn);
  const { rows } = await db.query<{ pid: number; application_name: string; client_addr: string | null; since: string }>(
    `SELECT a.pid, a.application_name, a.client_addr::text AS client_addr,
            to_char(a.backend_start, 'YYYY-MM-DD HH24:MI:SS TZ') AS since
       FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
      WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1::oid AND l.objid = $2::oid AND l.objsubid = 1`,
    [hi, lo],
  );
  if (rows.length === 0) return 'another session (it has just released it)';
  return rows.map((r) => `pid ${r.pid} "${r.application_name || 'unknown'}"${r.client_addr ? ` from ${r.client_addr}` : ''} since ${r.since}`).join(', ');
}

/** Connect to a PostgreSQL server; one session, so session-level locks and transactions share it. */
export async function openServer(opts: ServerOptions): Promise<Database> {
  const target = redactUrl(opts.url);
  const config: pg.ClientConfig = {
    connectionString: opts.url,
    application_name: opts.applicationName ?? 'ferry',
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
  };
  if (opts.password !== undefined) config.password = opts.password;
  const client = new pg.Client(config);
  // A dropped connection must surface on the next query, not crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw connectError(err, target);
  }
  const q = queryable(client);
  const listeners = new Map<string, Set<(p: string) => void>>();
  client.on('notification', (n) => {
    for (const fn of listeners.get(n.channel) ?? []) fn(n.payload ?? '');
  });
  let inTransaction = false;

  return {
    kind: 'server',
    target,
    ...q,
    openSession: (applicationName) => openServer({ ...opts, applicationName }),
    async transaction(fn) {
      if (inTransaction) throw new Error('nested transaction on one ferry session');
      inTransaction = true;
      let begun = false;
      const begin = async () => {
        if (!begun) await client.query('BEGIN');
        begun = true;
      };
      const tx: Queryable = {
        async query(sql, params, opts) {
          await begin();
          return q.query(sql, params, opts);
        },
        async exec(sql) {
          if (begun) return q.exec(sql);
          // BEGIN rides with the transaction's first script: a round trip fewer per transaction (a step's is its SET LOCAL).
          begun = true;
          return (await q.exec(`BEGIN;\n${sql}`)).slice(1);
        },
      };
      try {
        const out = await fn(tx);
        if (begun) await client.query('COMMIT');
        return out;
      } catch (err) {
        if (begun) await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        inTransaction = false;
      }
    },
    async withAdvisoryLock(key, waitMs, fn) {
      const deadline = Date.now() + waitMs;
      for (;;) {
        const { rows } = await q.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [key.toString()]);
        if (rows[0]?.ok) break;
        if (Date.now() >= deadline) {
          throw new FerryError(
            'E_LOCKED',
            `another ferry runner holds the migration lock on ${target}: ${await advisoryHolder(q, key)}`,
            'wait for it to finish and run the command again, or raise --lock-wait',
          );
        }
        await sleep(Math.min(250, Math.max(10, deadline - Date.now())));
      }
      try {
        return await fn();
      } finally {
        await q.query('SELECT pg_advisory_unlock($1::bigint)', [key.toString()]).catch(() => {});
      }
    },
    async listen(channel, onPayload) {
      let set = listeners.get(channel);
      if (!set) {
        set = new Set();
        listeners.set(channel, set);
        await client.query(`LISTEN ${quoteIdent(channel)}`);
      }
      set.add(onPayload);
      return async () => {
        set.delete(onPayload);
        if (set.size === 0) {
          listeners.delete(channel);
          await client.query(`UNLISTEN ${quoteIdent(channel)}`).catch(() => {});
        }
      };
    },
    async close() {
      await client.end().catch(() => {});
    },
  };
}
