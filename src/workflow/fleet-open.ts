import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import { controlEnvOf, type FleetTarget, fleetConfigOf, fleetTargets, listedUrls } from '../fleet/targets.js';
import { type FleetConfig, loadProject, resolveConnection } from '../project/config.js';
import { openEnvironment } from './environments.js';
import { loadWorkspace, type Workspace, type WorkspaceOptions } from './workspace.js';

// A fleet environment loaded and checked: its config, the control environment's workspace and ledger session,
// and every target validated (a query's read) before a fleet command changes anything.

/** Where a fleet is and who acts on it: the workspace options; `env` names the fleet (default: the config's defaultEnv). */
export type FleetOptions = WorkspaceOptions;

/** A fleet ready to act on: its config, databases, the control environment's workspace and its ledger session. */
export interface LoadedFleet {
  name: string;
  config: FleetConfig;
  /** The control environment's workspace: project, migrations, actor, lock wait and run options. */
  ws: Workspace;
  targets: FleetTarget[];
  requireApproval: boolean;
}

/** Whether `opts.env` (default: the config's defaultEnv) is a fleet environment (E_CONFIG when there is no project). */
export function isFleet(opts: WorkspaceOptions): boolean {
  const project = loadProject(opts.root ?? process.cwd());
  return fleetConfigOf(project, opts.env ?? project.config.defaultEnv) !== undefined;
}

/** Load the project and the fleet, open the control database; validate every target (reading a query's) before anything changes. */
export async function openFleet(opts: FleetOptions, withTargets: boolean): Promise<{ fleet: LoadedFleet; control: Database }> {
  const project = loadProject(opts.root ?? process.cwd());
  const name = opts.env ?? project.config.defaultEnv;
  const config = fleetConfigOf(project, name);
  if (!config)
    throw new FerryError('E_CONFIG', `environment "${name}" is not a fleet`, `add a "fleet" section to environments.${name}, or pick a fleet with --env`);
  const controlEnv = controlEnvOf(name, config);
  const ws = await loadWorkspace({ ...opts, env: controlEnv });
  if (ws.conn.driver !== 'server') {
    throw new FerryError(
      'E_CONFIG',
      `fleet "${name}": its control environment "${controlEnv}" is not a server`,
      'give "control" an environment with a postgres:// url',
    );
  }
  const requireApproval = project.config.environments[name]?.requireApproval ?? true;
  const control = await openEnvironment(ws.conn, { lockWaitMs: ws.lockWaitMs, purpose: 'ferry fleet ledger' });
  try {
    const targets = withTargets ? fleetTargets(name, config, await targetUrls(project, name, config, ws, control)) : [];
    return { fleet: { name, config, ws, targets, requireApproval }, control };
  } catch (err) {
    await control.close();
    throw err;
  }
}

/** The fleet's URLs: listed, from its file, or the first column of its query (in the control database when it is the query's environment). */
async function targetUrls(project: Workspace['project'], name: string, config: FleetConfig, ws: Workspace, control: Database): Promise<string[]> {
  const listed = listedUrls(project, name, config);
  if (listed) return listed;
  if (!('query' in config.targets)) return [];
  const q = config.targets.query;
  const conn = resolveConnection(project, q.env);
  const db = q.env === ws.conn.env ? control : await openEnvironment(conn, { lockWaitMs: ws.lockWaitMs, purpose: 'ferry fleet targets' });
  try {
    const { rows, fields } = await db.query(q.sql);
    const first = fields[0];
    if (first === undefined) throw new FerryError('E_CONFIG', `fleet "${name}": its query returns no column`, 'write it like "SELECT url FROM tenants"');
    return rows.map((r) => String(r[first] ?? ''));
  } catch (err) {
    if (err instanceof FerryError) throw err;
    throw new FerryError('E_CONFIG', `fleet "${name}": its query failed: ${(err as Error).message}`, `fix environments.${name}.fleet.targets.query.sql`);
  } finally {
    if (db !== control) await db.close();
  }
}
