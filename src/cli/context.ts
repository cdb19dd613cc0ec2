import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import { isMigrationReference, MIGRATION_ID_RULE } from '../migration/ids.js';
import { listArchived, loadAll, type Migration } from '../migration/loader.js';
import { type Connection, durationMs, loadProject, type Project, resolveConnection } from '../project/config.js';
import { currentActor } from '../state/store.js';
import { openEnvironment } from '../workflow/environments.js';
import type { RunOptions } from '../workflow/execute.js';
import { projectLoadOptions, selectMigrations } from '../workflow/plan-state.js';
import { type Output, processOutput, progressPrinter } from './output.js';

/** Options every command takes. */
export interface GlobalOptions {
  env?: string;
  json?: boolean;
  debug?: boolean;
  project?: string;
  lockWait?: string;
  by?: string;
}

/** What a command that talks to a database gets. */
export interface CommandContext {
  project: Project;
  conn: Connection;
  migrations: Migration[];
  /** The migrations the command's [id] argument selects (all when absent). */
  selected: Migration[];
  out: Output;
  actor: string;
  lockWaitMs: number;
  run: RunOptions;
  db: Database;
}

/** Refuse an id argument no migration can have (quotes, semicolons, spaces …) as a usage error stating the id rules. */
export function checkMigrationArgument(id: string | undefined): void {
  if (id === undefined || isMigrationReference(id)) return;
  throw new FerryError('E_USAGE', `not a migration id: ${JSON.stringify(id)}`, `${MIGRATION_ID_RULE}; the name alone (without the digits) also selects it`);
}

/** Load and validate everything (project, environment, migrations) before touching the database. */
export async function prepare(g: GlobalOptions, id: string | undefined): Promise<Omit<CommandContext, 'db'>> {
  checkMigrationArgument(id);
  const out = processOutput(Boolean(g.json));
  const project = loadProject(g.project ?? process.cwd());
  const conn = resolveConnection(project, g.env);
  const lockWaitMs = durationMs(g.lockWait ?? project.config.lockWait);
  const migrations = await loadAll(project.migrationsDir, projectLoadOptions(project));
  const selected = selectMigrations(migrations, id);
  const actor = g.by ?? currentActor();
  const run: RunOptions = {
    actor,
    lockTimeoutMs: durationMs(project.config.lockTimeout),
    lockRetries: project.config.lockRetries,
    archived: listArchived(project.migrationsDir).map((a) => a.id),
  };
  if (!out.json) run.onProgress = progressPrinter(out);
  return { project, conn, migrations, selected, out, actor, lockWaitMs, run };
}

/** Open the environment's database of a prepared command; a failure to connect is E_CONNECT with the fix. */
export async function openFor(base: Pick<CommandContext, 'conn' | 'lockWaitMs'>, purpose: string): Promise<Database> {
  return openEnvironment(base.conn, { lockWaitMs: base.lockWaitMs, purpose });
}

/** Open the environment's database, run `fn`, and always close it. */
export async function withDatabase<T>(g: GlobalOptions, id: string | undefined, purpose: string, fn: (ctx: CommandContext) => Promise<T>): Promise<T> {
  const base = await prepare(g, id);
  const db = await openFor(base, purpose);
  try {
    return await fn({ ...base, db });
  } finally {
    await db.close();
  }
}
