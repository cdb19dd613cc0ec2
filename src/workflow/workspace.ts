import type { Database } from '../db/database.js';
import { announcePgliteServing } from '../db/pglite.js';

export type { Database };

import { FerryError } from '../errors.js';
import { listArchived, loadAll, loadArchived, type Migration } from '../migration/loader.js';
import { type Connection, durationMs, loadProject, type Project, resolveConnection } from '../project/config.js';
import { currentActor } from '../state/store.js';
import type { DumpAccess } from './backup.js';
import { openEnvironment } from './environments.js';
import type { RunOptions } from './execute.js';
import { projectLoadOptions, selectMigrations } from './plan-state.js';

// A workspace is what every action needs before it touches a database: the project, the chosen
// environment's connection, every migration loaded and validated, who acts and how long to wait for the
// migration lock. The CLI builds one per command; a program or the dashboard builds one the same way.

/** Where the project is and how to act on it; every field is optional. */
export interface WorkspaceOptions {
  /** The project folder (holding ferry.config.json) or a folder inside it; default: the working directory. */
  root?: string;
  /** The environment of ferry.config.json; default: its `defaultEnv`. */
  env?: string;
  /** Who acts, for the log; default: $FERRY_ACTOR, else user@host. */
  actor?: string;
  /** How long to wait for another runner's migration lock, like "30s"; default: the config's `lockWait`. */
  lockWait?: string;
}

/** A loaded, validated project ready to act on one environment. */
export interface Workspace {
  project: Project;
  conn: Connection;
  migrations: Migration[];
  actor: string;
  lockWaitMs: number;
  /** The run options of `up`, `down`, `contract` …: actor, lock timeout and retries, archived ids. */
  run: RunOptions;
}

/** Load and validate everything (project, environment, migrations) before any database is opened. */
export async function loadWorkspace(opts: WorkspaceOptions = {}): Promise<Workspace> {
  const project = loadProject(opts.root ?? process.cwd());
  const conn = resolveConnection(project, opts.env);
  const lockWaitMs = durationMs(opts.lockWait ?? project.config.lockWait);
  const migrations = await loadAll(project.migrationsDir, projectLoadOptions(project));
  const actor = opts.actor ?? currentActor();
  const run: RunOptions = {
    actor,
    lockTimeoutMs: durationMs(project.config.lockTimeout),
    lockRetries: project.config.lockRetries,
    archived: listArchived(project.migrationsDir).map((a) => a.id),
  };
  return { project, conn, migrations, actor, lockWaitMs, run };
}

/** Open the workspace's environment; a failure to connect is E_CONNECT with the fix. `purpose` shows in pg_stat_activity. */
export function openWorkspace(ws: Pick<Workspace, 'conn' | 'lockWaitMs'>, purpose = 'ferry'): Promise<Database> {
  return openEnvironment(ws.conn, { lockWaitMs: ws.lockWaitMs, purpose });
}

/** Migration `id` (its full id or its name) among the workspace's migrations or, failing that, its archived ones. */
export async function findMigration(ws: Pick<Workspace, 'migrations' | 'project'>, id: string): Promise<Migration> {
  try {
    return selectMigrations(ws.migrations, id)[0] as Migration;
  } catch (err) {
    if (!(err instanceof FerryError) || err.code !== 'E_NOT_FOUND') throw err;
    const archived = await loadArchived(ws.project.migrationsDir, id, { environments: Object.keys(ws.project.config.environments) });
    if (archived) return archived;
    throw err;
  }
}

/** pg_dump's way in to a server environment (for backups and rehearsals); undefined for the embedded one. */
export function dumpAccess(ws: Pick<Workspace, 'conn'>): DumpAccess | undefined {
  if (ws.conn.driver !== 'server') return undefined;
  return { url: ws.conn.url, ...(ws.conn.password === undefined ? {} : { password: ws.conn.password }) };
}

/**
 * Tell other processes that `db` (the embedded database, which one process holds) is served at `url`:
 * their commands then refuse at once, naming the URL and this process, instead of waiting for the lock.
 */
export function announceServing(db: Database, url: string): void {
  announcePgliteServing(db, url);
}
