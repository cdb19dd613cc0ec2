import { createHash, randomUUID } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import {
  abandonRun,
  claimTarget,
  closeWave,
  createLedger,
  type FleetCommand,
  type FleetRunRow,
  type FleetTargetRow,
  finishTarget,
  hasLedger,
  heldClaims,
  openRun,
  type RunStatus,
  readRun,
  releaseClaims,
  renewLease,
  requireLedger,
  runTargets,
} from '../fleet/ledger.js';
import { canaryIds, failureBudgetOf } from '../fleet/targets.js';
import { planWaves, reverseWaves } from '../fleet/waves.js';
import type { Migration } from '../migration/loader.js';
import { durationMs } from '../project/config.js';
import { sleep } from '../sleep.js';
import { backfillSteps } from './backfill.js';
import { type FleetOptions, type LoadedFleet, openFleet } from './fleet-open.js';
import { errorLine, type FleetArgs, runOnTarget, targetConnection } from './fleet-target.js';
import { selectMigrations } from './plan-state.js';
import type { Workspace } from './workspace.js';

export { type FleetApproval, type FleetApproveArgs, type FleetApproveReport, fleetApprove } from './fleet-approve.js';
export { type FleetOptions, isFleet, type LoadedFleet } from './fleet-open.js';
export { type FleetDatabaseStatus, type FleetStatus, fleetStatus } from './fleet-status.js';
export type { FleetArgs } from './fleet-target.js';

/** `ferry fleet init`: create the fleet ledger in the control database (idempotent). */
export async function fleetInit(opts: FleetOptions): Promise<{ fleet: string; control: string; created: boolean }> {
  const { fleet, control } = await openFleet(opts, false);
  try {
    const existed = await hasLedger(control);
    await createLedger(control);
    return { fleet: fleet.name, control: fleet.ws.conn.env, created: !existed };
  } finally {
    await control.close();
  }
}

/** `ferry fleet abandon`: give up the fleet's unfinished run, so a run with another plan may start; databases keep what they have. */
export async function fleetAbandon(opts: FleetOptions): Promise<{ fleet: string; abandoned: FleetRunRow | null }> {
  const { fleet, control } = await openFleet(opts, false);
  try {
    await requireLedger(control, fleet.name, fleet.ws.conn.env);
    return { fleet: fleet.name, abandoned: (await abandonRun(control, fleet.name)) ?? null };
  } finally {
    await control.close();
  }
}

/** Where the fleet is and who acts on it, and a signal that tells the runner to stop (Ctrl-C). */
export interface FleetRunOptions extends FleetOptions {
  /**
   * Aborted: claim nothing more, give back this runner's unfinished claims (pending again, no attempt counted),
   * close their databases under the commands (as after a killed runner) and return without waiting for them.
   */
  signal?: AbortSignal;
}

/** Progress of a fleet run, as it happens. */
export type FleetEvent =
  | { type: 'run'; runId: number; resumed: boolean; command: FleetCommand; waves: number; targets: number }
  | { type: 'wave'; wave: number; waves: number; size: number }
  | { type: 'target'; wave: number; target: string; status: 'done' | 'failed'; note: string }
  | { type: 'waiting'; wave: number; held: { target: string; claimedBy: string; leaseUntil: Date }[] };

/** What a fleet run came to, as this runner saw it at the end. */
export interface FleetRunReport {
  fleet: string;
  control: string;
  runId: number;
  command: FleetCommand;
  resumed: boolean;
  status: RunStatus;
  waves: number;
  /** The wave the run ended in (the last one when done). */
  wave: number;
  counts: { total: number; done: number; failed: number; untouched: number };
  failed: { target: string; wave: number; error: string }[];
  /** The databases this runner handled. */
  handled: number;
  /** The most connections this runner held at once: the ledger's, plus the databases in flight. */
  peakConnections: number;
  /** Whether this runner was told to stop (its signal aborted) before the run ended. */
  interrupted: boolean;
  /** The databases whose claims this runner gave back when told to stop: pending again, for any runner. */
  released: string[];
}

/** The migrations a command acts on, and the plan's fingerprint: command, options, and each migration's id and checksum. */
function planOf(ws: Workspace, args: FleetArgs): { selected: Migration[]; fingerprint: string } {
  const needsId = args.command === 'contract' || args.command === 'backfill';
  if (needsId && args.id === undefined)
    throw new FerryError('E_USAGE', `${args.command} on a fleet needs a migration id`, `ferry ${args.command} <id> --env <fleet>`);
  const selected = args.id !== undefined ? selectMigrations(ws.migrations, args.id) : args.command === 'down' ? ws.migrations.slice(-1) : [...ws.migrations];
  if (selected.length === 0) throw new FerryError('E_NOT_FOUND', 'no migrations in the project', 'write one with `ferry new <name>`');
  // What each database would refuse alike is refused once, before a run starts.
  if (args.command === 'backfill') backfillSteps(selected[0] as Migration, args.stepId);
  const plan = { ...args, id: args.id === undefined ? undefined : selected[0]?.id, backupDir: undefined, migrations: selected.map((m) => [m.id, m.checksum]) };
  return { selected, fingerprint: createHash('sha256').update(JSON.stringify(plan)).digest('hex').slice(0, 16) };
}

/**
 * Run `up`, `down`, `verify`, `contract` or `backfill` on every database of a fleet, in waves: joins the fleet's
 * unfinished run of the same plan (resuming it) or starts one in the ledger, then claims databases of the current
 * wave until the run is done or stopped. A wave starts when every database of the previous one is done; failures
 * beyond the budget stop the run after the wave they happen in. Each database runs exactly the single-database command.
 */
export async function fleetRun(opts: FleetRunOptions, args: FleetArgs, onEvent: (e: FleetEvent) => void = () => {}): Promise<FleetRunReport> {
  const { fleet, control } = await openFleet(opts, true);
  try {
    await requireLedger(control, fleet.name, fleet.ws.conn.env);
    const { selected, fingerprint } = planOf(fleet.ws, args);
    const { config, targets } = fleet;
    const waves = planWaves(
      targets.map((t) => t.id),
      canaryIds(fleet.name, config.canaries, targets),
      config.waves,
    );
    const opened = await openRun(control, {
      fleet: fleet.name,
      command: args.command,
      fingerprint,
      args: { ...args, migrations: selected.map((m) => m.id) },
      waves: args.command === 'down' ? reverseWaves(waves) : waves,
      failureBudget: failureBudgetOf(config.failureBudget, targets.length),
      actor: fleet.ws.actor,
    });
    if ('conflict' in opened) throw conflictError(fleet.name, opened.conflict, args.command);
    const { run, resumed } = opened;
    onEvent({ type: 'run', runId: run.runId, resumed, command: args.command, waves: run.waves, targets: targets.length });
    const work = await workRun(control, fleet, run, args, selected, onEvent, opts.signal);
    const end = await readRun(control, run.runId);
    const rows = await runTargets(control, run.runId);
    return reportOf(fleet, end, rows, resumed, work, Boolean(opts.signal?.aborted) && end.status === 'running');
  } finally {
    await control.close();
  }
}

function conflictError(fleet: string, open: FleetRunRow, command: FleetCommand): FerryError {
  const migrations = Array.isArray(open.args.migrations) ? open.args.migrations.join(', ') : '';
  return new FerryError(
    'E_LOCKED',
    `fleet "${fleet}" has an unfinished run ${open.runId} (${open.command} ${migrations}, ${open.status}, started ${open.startedAt.toISOString()} by ${open.startedBy}) with a different plan than this ${command}`,
    `finish it first: run \`ferry ${open.command}${typeof open.args.id === 'string' ? ` ${open.args.id}` : ''} --env ${fleet}\` again with the same migrations; or give it up with \`ferry fleet abandon --env ${fleet}\` (each database keeps what it has)`,
  );
}

/**
 * Claim and run databases with up to `concurrency` in flight until the run is no longer running, or `signal` tells
 * this runner to stop; what this runner handled, and the claims it gave back when stopped.
 */
async function workRun(
  control: Database,
  fleet: LoadedFleet,
  run: FleetRunRow,
  args: FleetArgs,
  selected: Migration[],
  onEvent: (e: FleetEvent) => void,
  signal: AbortSignal | undefined,
): Promise<{ handled: number; peak: number; released: string[] }> {
  const runner = `${fleet.ws.actor} pid ${process.pid} ${randomUUID().slice(0, 8)}`;
  const ledger = oneAtATime(control);
  const leaseMs = durationMs(fleet.config.lease);
  const byId = new Map(fleet.targets.map((t) => [t.id, t]));
  const announced = new Set<number>();
  const waited = new Set<number>();
  const sizes = new Map<number, number>();
  for (const r of await runTargets(ledger, run.runId)) sizes.set(r.wave, (sizes.get(r.wave) ?? 0) + 1);
  let inFlight = 0;
  let peak = 0;
  let handled = 0;
  // Closes the databases in flight once their claims are given back, when the runner is told to stop.
  const cut = new AbortController();
  const emit = (e: FleetEvent) => {
    if (!signal?.aborted) onEvent(e);
  };
  const slot = async (): Promise<void> => {
    for (;;) {
      if (signal?.aborted) return;
      const now = await readRun(ledger, run.runId);
      if (now.status !== 'running') return;
      if (!announced.has(now.currentWave)) {
        announced.add(now.currentWave);
        emit({ type: 'wave', wave: now.currentWave, waves: now.waves, size: sizes.get(now.currentWave) ?? 0 });
      }
      if (signal?.aborted) return;
      const claim = await claimTarget(ledger, run.runId, now.currentWave, runner, leaseMs);
      if (!claim) {
        await closeWave(ledger, run.runId, now.currentWave);
        const after = await readRun(ledger, run.runId);
        if (after.status !== 'running' || after.currentWave !== now.currentWave) continue;
        if (inFlight === 0 && !waited.has(now.currentWave)) {
          // Nothing left to claim here: the wave waits for other runners' databases (a killed runner's until its lease ends).
          waited.add(now.currentWave);
          const held = await heldClaims(ledger, run.runId, now.currentWave, runner);
          if (held.length) emit({ type: 'waiting', wave: now.currentWave, held });
        }
        await sleep(Math.min(250, leaseMs / 4), signal);
        continue;
      }
      inFlight++;
      peak = Math.max(peak, inFlight);
      handled++;
      try {
        await handle(claim);
      } finally {
        inFlight--;
      }
    }
  };
  const handle = async (claim: FleetTargetRow): Promise<void> => {
    const target = byId.get(claim.target);
    const renew = setInterval(() => void renewLease(ledger, run.runId, claim.target, runner, leaseMs).catch(() => {}), Math.max(100, leaseMs / 3));
    let error: string | undefined;
    let note = '';
    try {
      if (!target)
        throw new FerryError(
          'E_CONFIG',
          `${claim.target} is in the run but not in this runner's list of the fleet's databases`,
          'give every runner the same fleet',
        );
      note = (await runOnTarget(fleet.ws, targetConnection(fleet.name, target, fleet.requireApproval), target, args, selected, cut.signal)).note;
    } catch (err) {
      error = errorLine(err);
    } finally {
      clearInterval(renew);
    }
    // A claim given back (the runner told to stop) is no longer this runner's: finishing it changes nothing.
    await finishTarget(ledger, run.runId, claim.target, runner, error);
    emit({ type: 'target', wave: claim.wave, target: claim.target, status: error ? 'failed' : 'done', note: error ?? note });
  };
  const slots = Promise.all(Array.from({ length: fleet.config.concurrency }, slot));
  if (!signal) {
    await slots;
    return { handled, peak: peak + 1, released: [] };
  }
  // Told to stop, the slots still in flight are not waited for: what they do after their claims were given back
  // (and their databases closed) is recorded nowhere, so their errors are dropped.
  slots.catch(() => {});
  const stopped = new Promise<void>((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
  await Promise.race([slots, stopped]);
  if (!signal.aborted) return { handled, peak: peak + 1, released: [] };
  const released = await releaseClaims(ledger, run.runId, runner);
  cut.abort();
  return { handled, peak: peak + 1, released };
}

/** The ledger session shared by a runner's slots: one statement at a time (a session runs one query at once). */
function oneAtATime(db: Queryable): Queryable {
  let last: Promise<unknown> = Promise.resolve();
  const queue = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = last.then(fn, fn);
    last = next.catch(() => {});
    return next;
  };
  return {
    query: (sql, params, opts) => queue(() => db.query(sql, params, opts)),
    exec: (sql) => queue(() => db.exec(sql)),
  };
}

function reportOf(
  fleet: LoadedFleet,
  run: FleetRunRow,
  rows: FleetTargetRow[],
  resumed: boolean,
  work: { handled: number; peak: number; released: string[] },
  interrupted: boolean,
): FleetRunReport {
  const failed = rows.filter((r) => r.status === 'failed');
  const done = rows.filter((r) => r.status === 'done').length;
  return {
    fleet: fleet.name,
    control: fleet.ws.conn.env,
    runId: run.runId,
    command: run.command,
    resumed,
    status: run.status,
    waves: run.waves,
    wave: run.currentWave,
    counts: { total: rows.length, done, failed: failed.length, untouched: rows.filter((r) => r.status === 'pending' && r.attempts === 0).length },
    failed: failed.map((r) => ({ target: r.target, wave: r.wave, error: r.lastError ?? '' })),
    handled: work.handled,
    peakConnections: work.peak,
    interrupted,
    released: work.released,
  };
}
