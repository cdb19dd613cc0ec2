import { FerryError } from '../errors.js';
import {
  type FleetApproval,
  type FleetApproveArgs,
  type FleetArgs,
  type FleetEvent,
  type FleetRunReport,
  type FleetStatus,
  fleetApprove,
  fleetRun,
  fleetStatus,
  isFleet,
} from '../workflow/fleet.js';
import { checkMigrationArgument, type GlobalOptions, workspaceOptionsOf } from './context.js';
import { type Output, pc, processOutput } from './output.js';

// `ferry up|down|verify|contract|backfill|status|approve --env <fleet>`: the same commands, run on every database
// of a fleet (in waves, for those that change schemas) by one library call (fleetRun, fleetStatus, fleetApprove),
// rendered here.

function eventLine(e: FleetEvent): string {
  if (e.type === 'run') {
    return `${pc.bold(`fleet run ${e.runId}`)} (${e.command}) ${e.resumed ? 'resumed' : 'started'}: ${e.targets} database(s) in ${e.waves} wave(s)`;
  }
  if (e.type === 'waiting') {
    const who = [...new Set(e.held.map((h) => h.claimedBy))].join(', ');
    const until = new Date(Math.max(...e.held.map((h) => new Date(h.leaseUntil).getTime()))).toISOString();
    return pc.dim(`  waiting for ${e.held.length} database(s) of wave ${e.wave} held by ${who} (their lease runs to ${until} unless renewed)`);
  }
  if (e.type === 'wave') return `${pc.bold(`wave ${e.wave}/${e.waves}`)}: ${e.size} database(s)`;
  return e.status === 'done' ? `  ${pc.green('✓')} ${e.target}  ${pc.dim(e.note)}` : `  ${pc.red('✗')} ${e.target}  ${e.note}`;
}

/** The end of a run: its summary line, and E_FLEET naming each failed database when any failed or the run stopped. */
function finish(out: Output, r: FleetRunReport): void {
  const c = r.counts;
  const state = r.interrupted ? 'interrupted' : r.status;
  out.line(`${pc.bold(`fleet run ${r.runId}`)} ${state} at wave ${r.wave}/${r.waves}: ${c.done} done, ${c.failed} failed, ${c.untouched} not reached`);
  out.result(r);
  if (r.interrupted) {
    const released = r.released.length ? `; its claims on ${r.released.join(', ')} are given back (pending again, no attempt counted)` : '';
    throw new FerryError(
      'E_FLEET',
      `fleet run ${r.runId} interrupted: this runner stopped${released}`,
      `run the same command again to resume it (other runners of the run go on); \`ferry fleet status --env ${r.fleet}\` shows every database`,
      { released: r.released },
    );
  }
  if (r.status === 'done' && c.failed === 0) return;
  const failed = r.failed.map((f) => `${f.target} (wave ${f.wave}): ${f.error}`);
  const what =
    r.status === 'failed' ? 'stopped: failures beyond its budget' : r.status === 'done' ? 'finished with failed databases (within its budget)' : r.status;
  throw new FerryError(
    'E_FLEET',
    `fleet run ${r.runId} ${what}${failed.length ? `:\n  ${failed.join('\n  ')}` : ''}`,
    r.status === 'abandoned'
      ? 'the run was abandoned (`ferry fleet abandon`); start again with the command you want'
      : `fix what the errors say, then run the same command again: it resumes (done databases are skipped, failed ones retried); \`ferry fleet status --env ${r.fleet}\` shows every database`,
    { failed: r.failed },
  );
}

/**
 * When the chosen environment is a fleet, run the command on every database and return true; false when it is one
 * database, for the command to go on. `options` maps each option that has no fleet meaning to whether it was given:
 * any given is refused as a usage error before anything is opened.
 */
export async function runOnFleet(g: GlobalOptions, args: FleetArgs, options: Record<string, boolean | undefined> = {}): Promise<boolean> {
  checkMigrationArgument(args.id);
  const opts = workspaceOptionsOf(g);
  if (!isFleet(opts)) return false;
  refuseOnFleet(options);
  const out = processOutput(Boolean(g.json));
  // Ctrl-C (or SIGTERM) stops this runner, which gives its claims back at once; a second one ends the process as usual.
  const abort = new AbortController();
  const unlisten = () => {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  };
  const stop = () => {
    unlisten();
    abort.abort();
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    finish(out, await fleetRun({ ...opts, signal: abort.signal }, args, (e) => out.line(eventLine(e))));
  } finally {
    unlisten();
  }
  return true;
}

/** E_USAGE naming the options given (`true` in `options`) that have no meaning on a fleet. */
function refuseOnFleet(options: Record<string, boolean | undefined>): void {
  const given = Object.entries(options).flatMap(([flag, on]) => (on ? [flag] : []));
  if (given.length) {
    throw new FerryError('E_USAGE', `${given.join(', ')} cannot be used on a fleet`, `run it on one database's environment, or drop ${given.join(', ')}`);
  }
}

/** Print `ferry fleet status` (and `ferry status --env <fleet>`); E_DRIFT when a database drifted, E_CONNECT when one is unreachable. */
export function printFleetStatus(out: Output, s: FleetStatus): void {
  if (s.run) {
    const r = s.run;
    out.line(
      `${pc.bold('latest run')} ${r.runId} ${r.command} ${r.status} (wave ${r.currentWave}/${r.waves}, started ${r.startedAt.toISOString()} by ${r.startedBy})`,
    );
  } else out.line(pc.dim('no fleet run yet'));
  for (const d of s.databases) {
    const mark = d.error ? pc.red('✗') : d.drift.length ? pc.yellow('!') : pc.green('●');
    const version = d.version ? `${d.version} ${pc.dim(d.phase ?? '')}` : pc.dim('(nothing applied)');
    out.line(`${mark} ${d.target}  ${version}${d.pending ? pc.dim(`  ${d.pending} pending`) : ''}`);
    for (const p of d.drift) out.line(`    ${pc.red('drift')} ${p}`);
    if (d.error) out.line(`    ${pc.red('error')} ${d.error}`);
    else if (d.ledger?.lastError) out.line(`    ${pc.dim(`last error (run ${d.ledger.runId}, ${d.ledger.status})`)} ${d.ledger.lastError}`);
  }
  const m = s.summary;
  const versions = Object.entries(m.byVersion).map(([v, n]) => `${n} at ${v}`);
  out.line(
    `${pc.bold(`${m.total} database(s)`)}: ${versions.join(', ') || 'none read'}; ${m.failed} failed, ${m.drifted} drifted, ${m.unreachable} unreachable`,
  );
  out.result(s);
  if (m.drifted)
    throw new FerryError('E_DRIFT', `${m.drifted} database(s) of fleet "${s.fleet}" drifted`, '`ferry status --env <one database>` on each shows the fix');
  if (m.unreachable)
    throw new FerryError(
      'E_CONNECT',
      `${m.unreachable} database(s) of fleet "${s.fleet}" could not be read`,
      'check the errors above: is each database there and reachable?',
    );
}

/** `ferry status --env <fleet>`: the fleet status; false when the environment is one database. */
export async function statusOnFleet(g: GlobalOptions, id: string | undefined): Promise<boolean> {
  checkMigrationArgument(id);
  const opts = workspaceOptionsOf(g);
  if (!isFleet(opts)) return false;
  if (id !== undefined) throw new FerryError('E_USAGE', 'status of one migration cannot be asked of a fleet', 'ferry fleet status --env <fleet>');
  printFleetStatus(processOutput(Boolean(g.json)), await fleetStatus(opts));
  return true;
}

function approvalLine(d: FleetApproval): string {
  if (d.status === 'failed') return `  ${pc.red('✗')} ${d.target}  ${d.error ?? ''}`;
  const moved = d.moved ? ` ${pc.green('planned → approved')}` : '';
  const still = d.missing.length ? pc.dim(`  still needed: ${d.missing.join(', ')}`) : '';
  return `  ${d.status === 'approved' ? pc.green('✓') : pc.dim('·')} ${d.target}  ${d.status === 'approved' ? 'approved' : pc.dim('already approved')}${moved}${still}`;
}

/**
 * `ferry approve <id> --as <role> --env <fleet>`: the approval recorded in every database of the fleet (those where
 * the role already approved are skipped); E_FLEET naming each database that failed. False when it is one database.
 */
export async function approveOnFleet(g: GlobalOptions, args: FleetApproveArgs): Promise<boolean> {
  checkMigrationArgument(args.id);
  const opts = workspaceOptionsOf(g);
  if (!isFleet(opts)) return false;
  const out = processOutput(Boolean(g.json));
  const r = await fleetApprove(opts, args, (d) => out.line(approvalLine(d)));
  const c = r.counts;
  out.line(
    `${pc.bold(r.migrationId)} approved as ${pc.bold(r.role)} in fleet ${r.fleet}: ${c.approved} database(s) now, ${c.already} already, ${c.failed} failed${
      r.missing.length ? pc.dim(`; still needed: ${r.missing.join(', ')}`) : ''
    }`,
  );
  out.result(r);
  if (c.failed === 0) return true;
  const failed = r.databases.filter((d) => d.status === 'failed');
  throw new FerryError(
    'E_FLEET',
    `${r.migrationId} could not be approved in ${c.failed} of ${c.total} database(s) of fleet "${r.fleet}":\n  ${failed.map((d) => `${d.target}: ${d.error}`).join('\n  ')}`,
    `fix what the errors say, then run the same \`ferry approve\` again: the databases already approved are skipped`,
    { failed: failed.map((d) => ({ target: d.target, error: d.error })) },
  );
}
