import type { Migration } from '../migration/loader.js';
import { dumpAccess, findMigration } from '../workflow/workspace.js';
import { type CommandContext, checkMigrationArgument, type GlobalOptions, openFor, prepare } from './context.js';

/**
 * Validate everything (project, environment, migrations, the id — archived ones
 * included) before opening the database, then run `fn` with the migration.
 */
export async function withMigration<T>(
  g: GlobalOptions,
  id: string,
  purpose: string,
  fn: (ctx: CommandContext, m: Migration) => Promise<T>,
  validate?: (ctx: Omit<CommandContext, 'db'>, m: Migration) => void,
): Promise<T> {
  checkMigrationArgument(id);
  const base = await prepare(g, undefined);
  const m = await findMigration(base, id);
  validate?.(base, m);
  const db = await openFor(base, purpose);
  try {
    return await fn({ ...base, selected: [m], db }, m);
  } finally {
    await db.close();
  }
}

export { dumpAccess };
