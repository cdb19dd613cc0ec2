import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { snapshotSchema } from '../../src/db/catalog.js';
import { quoteQualified } from '../../src/db/quote.js';
import type { TestTarget } from './databases.js';

/**
 * sha256 of `pg_dump --schema-only` of a server database (ferry's schema
 * included); pg_dump's per-run `\restrict` token lines are left out.
 */
export async function schemaDumpHash(url: string): Promise<string> {
  return createHash('sha256')
    .update(await schemaDump(url))
    .digest('hex');
}

/**
 * `pg_dump --schema-only` of a server database, pg_dump's per-run `\restrict`
 * token lines left out; with `withoutFerry`, ferry's own schema too (what the
 * application sees, to compare with what another migration tool left).
 */
export async function schemaDump(url: string, opts: { withoutFerry?: boolean } = {}): Promise<string> {
  const args = ['--schema-only', '--no-owner', '--no-privileges', ...(opts.withoutFerry ? ['--exclude-schema', 'ferry'] : []), url];
  const { stdout } = await promisify(execFile)('pg_dump', args, { maxBuffer: 1 << 28 });
  return stdout
    .split('\n')
    .filter((l) => !/^\\(un)?restrict /.test(l))
    .join('\n');
}

/**
 * A fingerprint of a test database: its schema dump (`pg_dump --schema-only`
 * on a server; ferry's catalog snapshot of every schema on PGlite, which has no
 * pg_dump), every column, index and view of every user schema (ferry's own
 * included) and the rows of every table. Equal before and after a command
 * means the command changed nothing.
 */
export async function fingerprint(target: TestTarget): Promise<string> {
  const db = await target.open();
  try {
    const user = `NOT IN ('pg_catalog', 'information_schema', 'pg_toast')`;
    const columns = await db.query(
      `SELECT table_schema, table_name, column_name, data_type, is_nullable, column_default FROM information_schema.columns
        WHERE table_schema ${user} ORDER BY 1, 2, ordinal_position`,
    );
    const indexes = await db.query(`SELECT schemaname, indexname, indexdef FROM pg_indexes WHERE schemaname ${user} ORDER BY 1, 2`);
    const views = await db.query(`SELECT schemaname, viewname, definition FROM pg_views WHERE schemaname ${user} ORDER BY 1, 2`);
    const tables = await db.query<{ s: string; t: string }>(
      `SELECT table_schema AS s, table_name AS t FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema ${user} ORDER BY 1, 2`,
    );
    const rows: string[] = [];
    for (const { s, t } of tables.rows) {
      const q = quoteQualified(s, t);
      const r = await db.query<{ n: number; h: string | null }>(`SELECT count(*)::int AS n, md5(string_agg(x::text, ',' ORDER BY x::text)) AS h FROM ${q} x`);
      rows.push(`${s}.${t}:${r.rows[0]?.n}:${r.rows[0]?.h}`);
    }
    const schema = target.url ? await schemaDumpHash(target.url) : JSON.stringify(await snapshotSchema(db, { excludeSchemas: [] }));
    return JSON.stringify({ schema, columns: columns.rows, indexes: indexes.rows, views: views.rows, rows });
  } finally {
    await db.close();
  }
}
