import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { quoteIdent } from '../../src/db/quote.js';
import { SERVER_URL } from '../helpers/databases.js';

/** `fn` over `items` with at most `limit` at once; results in order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** The URL of database `name` on the test server. */
export function urlOf(name: string): string {
  const u = new URL(SERVER_URL);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Run `sql` on database `name` and return its rows. */
export async function query<R = Record<string, unknown>>(name: string, sql: string, params: unknown[] = []): Promise<R[]> {
  const c = new pg.Client({ connectionString: urlOf(name) });
  await c.connect();
  try {
    return (await c.query(sql, params)).rows as R[];
  } finally {
    await c.end();
  }
}

/** Create databases `names` (a few at a time); returns a function dropping them all. */
export async function createDatabases(names: readonly string[]): Promise<() => Promise<void>> {
  await mapLimit(names, 4, (n) => query('test', `CREATE DATABASE ${quoteIdent(n)}`));
  return async () => {
    await mapLimit(names, 4, (n) => query('test', `DROP DATABASE IF EXISTS ${quoteIdent(n)} WITH (FORCE)`));
  };
}

/** The database's schema as sorted catalog lines (relations, columns, indexes, constraints), ferry's own schema left out unless `withFerry`. */
export async function schemaDump(name: string, withFerry = false): Promise<string> {
  const rows = await query<{ line: string }>(
    name,
    `WITH ns AS (SELECT oid, nspname FROM pg_namespace
                  WHERE nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%'
                    AND ($1 OR nspname <> 'ferry'))
     SELECT line FROM (
       SELECT format('schema %s', nspname) AS line FROM ns
       UNION ALL SELECT format('rel %s.%s %s', ns.nspname, c.relname, c.relkind) FROM pg_class c JOIN ns ON ns.oid = c.relnamespace
       UNION ALL SELECT format('col %s.%s.%s %s %s', ns.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull)
         FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN ns ON ns.oid = c.relnamespace WHERE a.attnum > 0 AND NOT a.attisdropped
       UNION ALL SELECT format('con %s %s', conrelid::regclass, pg_get_constraintdef(co.oid)) FROM pg_constraint co JOIN ns ON ns.oid = co.connamespace
       UNION ALL SELECT format('idx %s', indexdef) FROM pg_indexes i JOIN ns ON ns.nspname = i.schemaname
     ) s ORDER BY line`,
    [withFerry],
  );
  return rows.map((r) => r.line).join('\n');
}

/** Schema dumps of every database, in order. */
export function schemaDumps(names: readonly string[], withFerry = false): Promise<string[]> {
  return mapLimit(names, 8, (n) => schemaDump(n, withFerry));
}

/** A step of a test migration: its up, down and (optional) verify SQL. */
export interface FleetStep {
  id: string;
  up: string;
  down: string;
  verify?: string;
}

/**
 * A temporary project: `ferry.config.json` with `environments`, and a way to add migrations (`extra` manifest
 * fields override the generated ones: a `steps` list there declares steps beyond the SQL files written).
 */
export function fleetProject(environments: Record<string, unknown>): {
  root: string;
  migration(id: string, steps: FleetStep[], extra?: Record<string, unknown>): void;
} {
  const root = mkdtempSync(join(tmpdir(), 'ferry-fleet-'));
  writeFileSync(
    join(root, 'ferry.config.json'),
    JSON.stringify({ defaultEnv: 'ctl', environments, lockTimeout: '2s', lockRetries: 1, lockWait: '20s' }, null, 2),
  );
  mkdirSync(join(root, 'migrations'));
  return {
    root,
    migration(id, steps, extra = {}) {
      const dir = join(root, 'migrations', id);
      mkdirSync(dir);
      const manifest = {
        title: id,
        summary: `fleet test migration ${id}`,
        type: 'schema-additive',
        strategy: 'big-bang',
        pointOfNoReturn: null,
        steps: steps.map((s) => ({ id: s.id, transaction: true })),
        ...extra,
      };
      writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest, null, 2));
      for (const s of steps) {
        writeFileSync(join(dir, `${s.id}.up.sql`), s.up);
        writeFileSync(join(dir, `${s.id}.down.sql`), s.down);
        if (s.verify !== undefined) writeFileSync(join(dir, `${s.id}.verify.sql`), s.verify);
      }
    },
  };
}
