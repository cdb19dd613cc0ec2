import { join } from 'node:path';
import type { Database } from '../db/database.js';
import { FerryError, isFerryError } from '../errors.js';
import type { FleetCommand } from '../fleet/ledger.js';
import type { FleetTarget } from '../fleet/targets.js';
import type { Migration } from '../migration/loader.js';
import type { Connection } from '../project/config.js';
import { readState } from '../state/store.js';
import { up } from './apply.js';
import { approvalStatus } from './approvals.js';
import { backfill } from './backfill.js';
import { contract } from './contract.js';
import { openEnvironment } from './environments.js';
import type { LoadedFleet } from './fleet-open.js';
import { viewOf } from './plan-state.js';
import { down } from './rollback.js';
import { verify, verifyMigrations } from './verify.js';
import type { Workspace } from './workspace.js';

// One database of a fleet, handled exactly as `ferry <command> --env <one database>` handles it: opened with
// openEnvironment and given to the same workflow function, under that database's own migration lock and state.

/** What a fleet command asks of every database: the command, its migration (when it takes one) and its options. */
export interface FleetArgs {
  command: FleetCommand;
  /** The migration (id or name); `up` and `verify` default to all, `down` to the latest. */
  id?: string | undefined;
  /** `down`: keep this step applied. */
  to?: string | undefined;
  /** `down`: save and drop values the old shape cannot regenerate (`--accept-data-loss`). */
  acceptDataLoss?: boolean | undefined;
  /** `verify`: run every declared data check too (`--full`). */
  full?: boolean | undefined;
  /** `backfill`: only this backfill step. */
  stepId?: string | undefined;
  /** `contract` and `down`: where backups go (default .ferry/backups in the project), one folder per database below it. */
  backupDir?: string | undefined;
}

/** What a database's command did, in a line: steps applied or rolled back, migrations verified. */
export interface TargetOutcome {
  steps: number;
  note: string;
}

/** The connection of one database of fleet `fleet`, as a single environment's would be. */
export function targetConnection(fleet: string, t: FleetTarget, requireApproval: boolean): Connection {
  return { env: fleet, driver: 'server', url: t.url, ...(t.password === undefined ? {} : { password: t.password }), requireApproval };
}

/**
 * Run the fleet's command on one database and close it; throws what the single-database command would. When `cut`
 * aborts (a runner told to stop, its claim already given back), the session is closed under the command, which
 * then stops as after a killed runner: what had not committed is rolled back by the server.
 */
export async function runOnTarget(
  ws: Workspace,
  conn: Connection,
  target: FleetTarget,
  args: FleetArgs,
  selected: readonly Migration[],
  cut?: AbortSignal,
): Promise<TargetOutcome> {
  const db = await openEnvironment(conn, { lockWaitMs: ws.lockWaitMs, purpose: `ferry fleet ${args.command}` });
  const close = () => void db.close();
  cut?.addEventListener('abort', close, { once: true });
  try {
    if (cut?.aborted) throw new Error('the runner was told to stop');
    return await commandOn(db, ws, conn, target, args, selected);
  } finally {
    cut?.removeEventListener('abort', close);
    await db.close();
  }
}

async function commandOn(
  db: Database,
  ws: Workspace,
  conn: Connection,
  target: FleetTarget,
  args: FleetArgs,
  selected: readonly Migration[],
): Promise<TargetOutcome> {
  const base = { ...ws.run, lockWaitMs: ws.lockWaitMs };
  const backupDir = join(args.backupDir ?? join(ws.project.root, '.ferry', 'backups'), conn.env, target.database);
  const m = selected[0] as Migration;
  switch (args.command) {
    case 'up': {
      if (conn.requireApproval) await refuseUnapproved(db, conn.env, selected);
      const only = args.id === undefined ? {} : { only: m.id };
      const r = await up(db, ws.migrations, { ...base, ...only, requireApproval: conn.requireApproval, envNote: `in database ${target.id}` });
      await refuseFailingVerify(db, ws, selected);
      return { steps: r.steps.length, note: `${r.steps.length} step(s) applied, verify SQL passed` };
    }
    case 'down': {
      const to = args.to === undefined ? {} : { to: args.to };
      const r = await down(db, ws.migrations, m.id, { ...base, ...to, dataLoss: args.acceptDataLoss ? 'save' : 'refuse', backupDir });
      return { steps: r.steps.length, note: `${r.steps.length} step(s) rolled back` };
    }
    case 'contract': {
      const access = { url: target.url, ...(target.password === undefined ? {} : { password: target.password }) };
      const r = await contract(db, m, { ...base, backup: { dir: backupDir, access } });
      return { steps: r.steps.length, note: `${r.steps.length} contract step(s) applied` };
    }
    case 'backfill': {
      if (conn.requireApproval) await refuseUnapproved(db, conn.env, selected);
      const step = args.stepId === undefined ? {} : { stepId: args.stepId };
      const r = await backfill(db, ws.migrations, m, { ...base, ...step, requireApproval: conn.requireApproval });
      return { steps: r.report?.steps.length ?? 0, note: r.joined ? 'joined a backfill in progress' : `${r.report?.steps.length ?? 0} step(s) applied` };
    }
    case 'verify': {
      const checks = args.full ? { checks: { mode: 'full' as const } } : {};
      const results = await verify(db, [...selected], { actor: ws.actor, lockWaitMs: ws.lockWaitMs, project: ws.project, conn, ...checks });
      const bad = results.filter((r) => !r.ok);
      if (bad.length) {
        throw new FerryError('E_VERIFY', `${bad.map((r) => r.migrationId).join(', ')} failed verification`, `\`ferry verify\` on this database shows why`);
      }
      return { steps: 0, note: `${results.length} migration(s) verified` };
    }
  }
}

/**
 * `up`'s approval gate, worded for a fleet: a planned migration with steps to apply here is refused (E_GATE, nothing
 * changed) with the command that approves it on every database of the fleet, so the rerun resumes the run.
 */
async function refuseUnapproved(db: Database, fleet: string, selected: readonly Migration[]): Promise<void> {
  const state = await readState(db);
  for (const m of selected) {
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    if ((v.record?.phase ?? 'planned') !== 'planned' || v.pending.length === 0) continue;
    const { missing } = await approvalStatus(db, m.id, m.checksum, m.manifest.plan.approvals);
    throw new FerryError(
      'E_GATE',
      `migration ${m.id} is planned but not approved in this database, and fleet "${fleet}" requires approval`,
      `approve it on every database of the fleet, as each role still missing: ${missing.map((r) => `\`ferry approve ${m.id} --as ${JSON.stringify(r)} --env ${fleet}\``).join(', ')}; then run the same command again: the run resumes`,
    );
  }
}

/**
 * The wave's gate after `up`: every applied step's verify SQL passes (read-only, nothing recorded, no phase moved).
 * Checked on each attempt, so a database whose steps were applied by an earlier attempt is still held to it.
 */
async function refuseFailingVerify(db: Database, ws: Workspace, selected: readonly Migration[]): Promise<void> {
  const results = await verifyMigrations(db, [...selected], { actor: ws.actor, lockWaitMs: ws.lockWaitMs });
  const failures = results.flatMap((r) => (r.ok ? [] : r.steps.flatMap((s) => s.failures.map((f) => `${r.migrationId}: ${f}`))));
  if (failures.length) {
    throw new FerryError(
      'E_VERIFY',
      `applied, but the verify SQL fails: ${failures.join('; ')}`,
      'the steps stay applied on this database; fix it (or roll it back with `ferry down`), then rerun: its verify is checked again',
    );
  }
}

/**
 * Every database of `fleet`, up to its concurrency at once and outside any run: each opened as a single environment's
 * would be, given to `fn` and closed; a database that cannot be opened or fails gives `failed` of its error line.
 * `onEach` sees each outcome as it comes; the result is in the fleet's order.
 */
export async function eachDatabase<T>(
  fleet: LoadedFleet,
  purpose: string,
  fn: (db: Database, t: FleetTarget) => Promise<T>,
  failed: (t: FleetTarget, error: string) => T,
  onEach: (outcome: T) => void = () => {},
): Promise<T[]> {
  const one = async (t: FleetTarget): Promise<T> => {
    try {
      const db = await openEnvironment(targetConnection(fleet.name, t, fleet.requireApproval), { lockWaitMs: fleet.ws.lockWaitMs, purpose });
      try {
        return await fn(db, t);
      } finally {
        await db.close();
      }
    } catch (err) {
      return failed(t, errorLine(err));
    }
  };
  const queue = [...fleet.targets];
  const byTarget = new Map<string, T>();
  const worker = async () => {
    for (let t = queue.shift(); t; t = queue.shift()) {
      const outcome = await one(t);
      byTarget.set(t.id, outcome);
      onEach(outcome);
    }
  };
  await Promise.all(Array.from({ length: Math.min(fleet.config.concurrency, fleet.targets.length) }, worker));
  return fleet.targets.map((t) => byTarget.get(t.id) as T);
}

/** One line for the ledger and the report: the error's code and message (and its hint). */
export function errorLine(err: unknown): string {
  if (isFerryError(err)) return `${err.code}: ${err.message}${err.hint ? ` (${err.hint})` : ''}`;
  return `E_INTERNAL: ${err instanceof Error ? err.message : String(err)}`;
}
