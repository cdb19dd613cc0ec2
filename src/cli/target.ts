import { FerryError } from '../errors.js';
import { type LoadOptions, loadArchived, type Migration } from '../migration/loader.js';
import { selectMigrations } from '../workflow/plan-state.js';
import { type CommandContext, checkMigrationArgument, type GlobalOptions, openFor, prepare } from './context.js';

/** Find migration `id` among the project's migrations or, failing that, its archived ones (`migrations/archive/YYYYMM/`). */
export async function resolveMigration(migrations: Migration[], migrationsDir: string, id: string, opts: LoadOptions = {}): Promise<Migration> {
  try {
    return selectMigrations(migrations, id)[0] as Migration;
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== 'E_NOT_FOUND') throw err;
    const archived = await loadArchived(migrationsDir, id, opts);
    if (archived) return archived;
    throw err;
  }
}

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
  const m = await resolveMigration(base.migrations, base.project.migrationsDir, id, { environments: Object.keys(base.project.config.environments) });
  validate?.(base, m);
  const db = await openFor(base, purpose);
  try {
    return await fn({ ...base, selected: [m], db }, m);
  } finally {
    await db.close();
  }
}

/** pg_dump's way in to a server environment; undefined for the embedded one. */
export function dumpAccess(ctx: Pick<CommandContext, 'conn'>): { url: string; password?: string } | undefined {
  if (ctx.conn.driver !== 'server') return undefined;
  return { url: ctx.conn.url, ...(ctx.conn.password === undefined ? {} : { password: ctx.conn.password }) };
}
