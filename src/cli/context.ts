import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import { isMigrationReference, MIGRATION_ID_RULE } from '../migration/ids.js';
import type { Migration } from '../migration/loader.js';
import type { Connection, Project } from '../project/config.js';
import type { RunOptions } from '../workflow/execute.js';
import { selectMigrations } from '../workflow/plan-state.js';
import { loadWorkspace, openWorkspace, type WorkspaceOptions } from '../workflow/workspace.js';
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

/** The workspace the global options name: --project, --env, --by and --lock-wait. */
export function workspaceOptionsOf(g: GlobalOptions): WorkspaceOptions {
  return {
    ...(g.project === undefined ? {} : { root: g.project }),
    ...(g.env === undefined ? {} : { env: g.env }),
    ...(g.by === undefined ? {} : { actor: g.by }),
    ...(g.lockWait === undefined ? {} : { lockWait: g.lockWait }),
  };
}

/** Load and validate everything (project, environment, migrations) before touching the database. */
export async function prepare(g: GlobalOptions, id: string | undefined): Promise<Omit<CommandContext, 'db'>> {
  checkMigrationArgument(id);
  const out = processOutput(Boolean(g.json));
  const ws = await loadWorkspace(workspaceOptionsOf(g));
  const selected = selectMigrations(ws.migrations, id);
  if (!out.json) ws.run.onProgress = progressPrinter(out);
  return { ...ws, selected, out };
}

/** Open the environment's database of a prepared command; a failure to connect is E_CONNECT with the fix. */
export const openFor = (base: Pick<CommandContext, 'conn' | 'lockWaitMs'>, purpose: string): Promise<Database> => openWorkspace(base, purpose);

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
