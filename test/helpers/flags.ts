import type { Database } from '../../src/db/database.js';

/** Set a flag with plain SQL, as another process (or `ferry flag set`) would; bumps its version. */
export async function setFlag(db: Database, key: string, enabled: boolean, percentage: number): Promise<void> {
  await db.query(
    `INSERT INTO ferry.flags (key, enabled, percentage, updated_by) VALUES ($1, $2, $3, 'test')
     ON CONFLICT (key) DO UPDATE SET enabled = EXCLUDED.enabled, percentage = EXCLUDED.percentage,
       updated_at = now(), version = ferry.flags.version + 1`,
    [key, enabled, percentage],
  );
}
