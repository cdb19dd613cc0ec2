import type { Database } from '../../src/db/database.js';
import { loadAll, type Migration } from '../../src/migration/loader.js';
import type { UpOptions } from '../../src/workflow/apply.js';
import type { TestProject } from './project.js';

/** Run options for engine tests: short lock timeouts, no approval. */
export const testRun: UpOptions = { actor: 'test', lockTimeoutMs: 2000, lockRetries: 2, retryBaseMs: 50, requireApproval: false, lockWaitMs: 10_000 };

/** Load the project's migrations. */
export function migrationsOf(p: TestProject): Promise<Migration[]> {
  return loadAll(`${p.root}/migrations`);
}

/** What a user could observe in the target: schema snapshot and the content of every table; ferry's own state too with `withState`. */
export async function observable(db: Database, withState = false): Promise<string> {
  const { snapshotSchema } = await import('../../src/db/catalog.js');
  const tables = await db.query<{ t: string }>(
    `SELECT quote_ident(schemaname) || '.' || quote_ident(tablename) AS t FROM pg_tables
      WHERE schemaname NOT IN ('pg_catalog', 'information_schema') AND ($1 OR schemaname <> 'ferry') ORDER BY 1`,
    [withState],
  );
  const counts: Record<string, unknown> = {};
  for (const { t } of tables.rows) {
    // Names come from the catalog and are quoted by quote_ident.
    counts[t] = (await db.query(`SELECT md5(coalesce(string_agg(x::text, ',' ORDER BY x::text), '')) AS h, count(*) AS n FROM ${t} x`)).rows[0];
  }
  return JSON.stringify({ schema: await snapshotSchema(db, { excludeSchemas: [] }), counts });
}
