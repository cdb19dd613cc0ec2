import type { TestTarget } from './databases.js';

/** The rows of one query, on a session of its own that is closed again (the CLI may need the database next). */
export async function rowsOf<R = Record<string, unknown>>(target: TestTarget, text: string): Promise<R[]> {
  const db = await target.open();
  try {
    return (await db.query<R>(text)).rows;
  } finally {
    await db.close();
  }
}
