import { join } from 'node:path';
import { Argument, type Command, Option } from 'commander';
import { FerryError } from '../../errors.js';
import type { ControllerEvent } from '../../health/index.js';
import type { Migration } from '../../migration/loader.js';
import { formatHold, formatPercentage, parseHold, parsePercentage, type RolloutMove } from '../../rollout/index.js';
import { guidanceLines } from '../../workflow/app-guidance.js';
import { runRollout } from '../../workflow/health.js';
import { advanceRolloutStage, type RolloutReport, resumePausedRollout, rolloutReport, setRolloutPercentage, stageMeaning } from '../../workflow/rollout.js';
import { isMigrationStage, STAGE_PLANS, type StageMove, setMigrationStage, unknownStage } from '../../workflow/stage.js';
import { type CommandContext, type GlobalOptions, withDatabase } from '../context.js';
import { colourLabel } from '../health-output.js';
import { pc, phaseLine } from '../output.js';

function printMove(ctx: CommandContext, move: RolloutMove): void {
  for (const p of move.phases) ctx.out.line(phaseLine(move.migrationId, p.from, p.to));
  if (move.flagChange)
    ctx.out.line(
      `${pc.magenta('rollout')} ${move.migrationId}: flag ${move.flag} ${formatPercentage(move.fromPercentage)} → ${pc.bold(formatPercentage(move.toPercentage))}${move.early ? pc.yellow('  (early)') : ''}`,
    );
  else
    ctx.out.line(`${pc.magenta('rollout')} ${move.migrationId}: flag ${move.flag} stays at ${formatPercentage(move.toPercentage)}; the 100 % hold has passed`);
  ctx.out.result(move);
}

/** Open the database, make one rollout move with the selected migration and print it. */
async function moving(
  g: GlobalOptions,
  id: string,
  purpose: string,
  fn: (ctx: CommandContext, m: Migration, opts: { actor: string; lockWaitMs: number }) => Promise<RolloutMove>,
): Promise<void> {
  await withDatabase(g, id, purpose, async (ctx) => {
    printMove(ctx, await fn(ctx, ctx.selected[0] as Migration, { actor: ctx.actor, lockWaitMs: ctx.lockWaitMs }));
  });
}

function printStage(ctx: CommandContext, move: StageMove): void {
  const said = move.moved
    ? `stage ${move.from} → ${pc.bold(move.to)}${move.skipped.length ? pc.yellow(`  (early, past ${move.skipped.join(', ')})`) : ''}`
    : `already at stage ${pc.bold(move.to)}; nothing changed`;
  ctx.out.line(`${pc.magenta('rollout')} ${move.migrationId}: flag ${move.flag} ${said}`);
  ctx.out.line(pc.dim(`  ${move.to}: ${stageMeaning(STAGE_PLANS[move.to])}`));
  ctx.out.result(move);
}

/** `ferry rollout <id> set|advance|stage|status|run|resume`: a migration's flag through its stages (canary → rolling → rolled-out) and its migration stages (off → … → complete), by hand or by the health controller. */
export function registerRolloutCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('rollout')
    .description("move a migration's flag through its stage schedule (default 5, 25, 50, 75, 100 %, each held 24 h)")
    .argument('<id>', 'migration id')
    .addArgument(
      new Argument(
        '<action>',
        'set <pct>: set the percentage (back, or up to the next stage once its hold elapsed; further needs --now --reason); advance: next stage once the hold elapsed; stage <name>: move the migration stage (off, dualwrite, shadow, live, rampdown, complete); status; run: the health controller walks the stages; resume: continue a paused rollout',
      ).choices(['set', 'advance', 'stage', 'status', 'run', 'resume']),
    )
    .argument('[pct]', 'for set: a percentage like 5, 12.5 or 5%; for stage: the stage name')
    .option('--now', 'advance, or set past the next stage, before the hold has elapsed; or skip migration stages forward (needs --reason)')
    .option('--reason <text>', "why, for the migration's log")
    .option('--interval <duration>', "for run: evaluate health this often (default: the manifest's health.interval, 30s)")
    .addOption(
      new Option('--source <source>', 'for run: metric source (default: prometheus when the manifest has health.prometheus, else sdk)').choices([
        'sdk',
        'prometheus',
      ]),
    )
    .addHelpText(
      'after',
      '\nRollout starts from backfilled (or expanded without a backfill step): expanded|backfilled → canary (first stage)\n→ rolling (up to 100 %) → rolled-out, only once the hold of the 100 % stage has passed with health not red\n(`advance` at 100 %, or `run`).\nset goes back freely, or up to the next stage once the hold of the current stage has elapsed; past the next stage\n(or before the hold) it needs --now --reason, recorded in the log, like advance --now.\n\nstage <name> moves the migration stage the flag carries (which migration() of ferry/compat follows):\noff → dualwrite → shadow → live → rampdown → complete, one at a time (further with --now --reason);\nlive needs the rollout started and health not red, rampdown and complete need the migration rolled out;\nback is allowed, except out of complete. Each move bumps the version of the flag and is logged.\n\nrun judges health every interval (see `ferry health`): green through a hold → next stage; yellow → paused until\ngreen again or `resume`; red on errors or data errors → quick rollback (flag off), plus `down` to the last safe\npoint when data errors were found; red on latency only → paused. Exits 0 rolled out, 17 rolled back.\n\nExamples:\n  ferry rollout split_full_name set 5\n  ferry rollout split_full_name advance\n  ferry rollout split_full_name advance --now --reason "metrics green, release window closes"\n  ferry rollout split_full_name set 100 --now --reason "hotfix must reach everyone"\n  ferry rollout split_full_name stage dualwrite\n  ferry rollout split_full_name stage live --now --reason "shadow compared clean for a week"\n  ferry rollout split_full_name status\n  ferry rollout split_full_name run\n  ferry rollout split_full_name resume --reason "latency explained by a cold cache"',
    )
    .action(async (id: string, action: Action, pctText: string | undefined, o: RolloutOptions) => {
      const g = globals();
      if ((o.interval !== undefined || o.source !== undefined) && action !== 'run')
        throw new FerryError('E_USAGE', '--interval and --source only apply to run', `ferry rollout ${id} run --interval 30s`);
      if (action === 'run' || action === 'resume') {
        if (pctText !== undefined) throw new FerryError('E_USAGE', `rollout ${action} takes no percentage ("${pctText}")`, `ferry rollout ${id} ${action}`);
        if (o.now) throw new FerryError('E_USAGE', '--now only applies to advance', `ferry rollout ${id} ${action}`);
        return action === 'run' ? run(g, id, o) : resume(g, id, o);
      }
      if (action === 'stage') {
        if (pctText === undefined) throw new FerryError('E_USAGE', 'rollout stage needs a stage name', `e.g. ferry rollout ${id} stage dualwrite`);
        if (!isMigrationStage(pctText)) throw unknownStage(pctText);
        if (o.now && !o.reason?.trim()) throw new FerryError('E_USAGE', 'stage --now needs --reason "…"', 'say why stages are skipped; it goes into the log');
        const stage = pctText;
        const now = o.now && o.reason ? { now: { reason: o.reason } } : o.reason ? { reason: o.reason } : {};
        return withDatabase(g, id, 'rollout stage', async (ctx) => {
          printStage(ctx, await setMigrationStage(ctx.db, ctx.selected[0] as Migration, stage, { actor: ctx.actor, lockWaitMs: ctx.lockWaitMs, ...now }));
        });
      }
      if (action === 'status') {
        if (pctText !== undefined) throw new FerryError('E_USAGE', `rollout status takes no percentage ("${pctText}")`, `ferry rollout ${id} status`);
        return status(g, id);
      }
      if (action === 'set') {
        if (pctText === undefined) throw new FerryError('E_USAGE', 'rollout set needs a percentage', `e.g. ferry rollout ${id} set 5`);
        if (o.now && !o.reason?.trim())
          throw new FerryError('E_USAGE', 'set --now needs --reason "…"', 'say why stages or holds are skipped; it goes into the log');
        const pct = parsePercentage(pctText, 0.01);
        const now = o.now && o.reason ? { now: { reason: o.reason } } : o.reason ? { reason: o.reason } : {};
        return moving(g, id, 'rollout set', (ctx, m, base) => setRolloutPercentage(ctx.db, m, pct, { ...base, ...now }));
      }
      if (pctText !== undefined)
        throw new FerryError('E_USAGE', `advance moves to the next stage and takes no percentage ("${pctText}")`, `use \`ferry rollout ${id} set ${pctText}\``);
      if (o.now && !o.reason?.trim())
        throw new FerryError('E_USAGE', 'advance --now needs --reason "…"', 'say why the hold is cut short; it goes into the log');
      const now = o.now && o.reason ? { now: { reason: o.reason } } : {};
      return moving(g, id, 'rollout advance', (ctx, m, base) => advanceRolloutStage(ctx.db, m, { ...base, ...now }));
    });
}

type Action = 'set' | 'advance' | 'stage' | 'status' | 'run' | 'resume';
interface RolloutOptions {
  now?: boolean;
  reason?: string;
  interval?: string;
  source?: 'sdk' | 'prometheus';
}

async function resume(g: GlobalOptions, id: string, o: RolloutOptions): Promise<void> {
  const reason = o.reason ? { reason: o.reason } : {};
  await moving(g, id, 'rollout resume', (ctx, m, base) => resumePausedRollout(ctx.db, m, { ...base, ...reason }));
}

function printController(ctx: CommandContext, e: ControllerEvent): void {
  const out = ctx.out;
  if (e.type === 'started')
    out.line(
      `${pc.magenta('controller')} ${e.migrationId}: ${e.resumed ? `continues at ${formatPercentage(e.percentage)} (${e.phase})` : `starts (phase ${e.phase ?? 'planned'})`} as ${e.owner}`,
    );
  else if (e.type === 'evaluation') {
    const m = e.matrix;
    const v = (name: string) => m.metrics.find((x) => x.metric === name);
    const err = v('errorRate')?.value;
    const lat = v('latencyP99');
    const figures = [
      `errors ${err === null || err === undefined ? '—' : `${Number((err * 100).toFixed(3))} %`}`,
      `p99 ${lat?.value == null ? '—' : `${lat.value.toFixed(1)} ms`}${lat?.compared == null ? '' : ` (${lat.compared >= 0 ? '+' : ''}${(lat.compared * 100).toFixed(1)} %)`}`,
      `data ${v('dataErrors')?.value ?? 0}`,
      `n ${m.traffic.new.requests === null ? '—' : Math.round(m.traffic.new.requests)}/${m.traffic.old.requests === null ? '—' : Math.round(m.traffic.old.requests)}`,
    ].join('  ');
    out.line(
      `  #${e.evaluation} stage ${e.stage}/${e.stages} ${formatPercentage(m.percentage)}  held ${formatHold(e.heldMs)}/${formatHold(e.holdMs)}  ${colourLabel(m.colour)}  ${pc.dim(figures)}  → ${e.decision.action}`,
    );
  } else if (e.type === 'moved') out.line(`${pc.magenta(e.action)} ${formatPercentage(e.from)} → ${pc.bold(formatPercentage(e.to))}: ${e.reason}`);
  else
    out.line(
      `${pc.red('rolled back')}: ${e.reason}${e.stepsRolledBack.length ? `; down: ${e.stepsRolledBack.join(', ')}${e.safePoint ? ` (kept up to ${e.safePoint})` : ''}` : ''}`,
    );
}

async function run(g: GlobalOptions, id: string, o: RolloutOptions): Promise<void> {
  const intervalMs = o.interval === undefined ? undefined : parseHold(o.interval);
  if (o.interval !== undefined && intervalMs === undefined)
    throw new FerryError('E_USAGE', `--interval "${o.interval}" is not a duration`, 'write it like 5s, 30s or 1min');
  await withDatabase(g, id, 'rollout run', async (ctx) => {
    const m = ctx.selected[0] as Migration;
    const abort = new AbortController();
    const stop = () => abort.abort();
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    try {
      const result = await runRollout(ctx.db, ctx.migrations, m, {
        actor: ctx.actor,
        lockWaitMs: ctx.lockWaitMs,
        ...(o.source === undefined ? {} : { source: o.source }),
        ...(intervalMs === undefined ? {} : { intervalMs }),
        signal: abort.signal,
        onEvent: (e) => printController(ctx, e),
        run: ctx.run,
        backupDir: join(ctx.project.root, '.ferry', 'backups'),
      });
      const said = { done: pc.green('rolled out'), 'rolled-back': pc.red('rolled back'), stopped: pc.yellow('stopped') }[result.outcome];
      ctx.out.line(`${said} ${m.id} at ${formatPercentage(result.percentage)} after ${result.evaluations} evaluation(s): ${result.reason}`);
      ctx.out.result(result);
      if (result.outcome === 'rolled-back') {
        throw new FerryError(
          'E_HEALTH_RED',
          `the controller rolled ${m.id} back: ${result.reason}`,
          `see \`ferry log ${m.id}\`; after the fix: \`ferry up ${m.id}\`, then \`ferry rollout ${m.id} run\` again`,
        );
      }
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  });
}

async function status(g: GlobalOptions, id: string): Promise<void> {
  await withDatabase(g, id, 'rollout status', async (ctx) => {
    const s = await rolloutReport(ctx.db, ctx.selected[0] as Migration);
    const out = ctx.out;
    out.line(`${pc.bold(s.migrationId)}  phase ${s.phase ?? 'planned'}  flag ${s.flag ?? pc.yellow('(none)')}`);
    if (!s.started) out.line(`  not started; first stage ${formatPercentage(s.stages[0]?.percent ?? 0)}`);
    else {
      out.line(`  stage ${s.stage}/${s.stages.length} at ${formatPercentage(s.percentage)}${s.flagEnabled ? '' : pc.yellow('  (flag off: quick rollback)')}`);
      out.line(`  held ${formatHold(s.heldMs)} of ${formatHold(s.holdMs)}${s.remainingMs > 0 ? `, ${formatHold(s.remainingMs)} remaining` : ', hold elapsed'}`);
    }
    const last =
      s.phase === 'canary' || s.phase === 'rolling'
        ? `rolled-out once the 100 % hold has passed with health not red (\`ferry rollout ${s.migrationId} advance\`)`
        : 'none, 100 % is the last stage';
    out.line(`  next: ${s.next ? `${formatPercentage(s.next.percent)} (held ${formatHold(s.next.holdMs)})` : last}`);
    const c = s.controller;
    if (c) {
      const who = c.owner ? `run by ${c.owner}, heartbeat ${formatHold(c.heartbeatAgeMs ?? 0)} ago` : 'no controller running';
      out.line(`  controller: ${c.state} (${who}); last ${c.lastColour ?? '—'} → ${c.lastAction ?? '—'}${c.reason ? pc.dim(`  ${c.reason}`) : ''}`);
    }
    for (const l of compatLines(s)) out.line(l);
    for (const l of guidanceLines(s.guidance)) out.line(pc.dim(`  ${l}`));
    out.result(s);
  });
}

/** The first few ids of a list, and how many more. */
const units = (l: { count: number; first: string[] }) =>
  l.count === 0 ? 'none' : `${l.count} (${l.first.join(', ')}${l.count > l.first.length ? ', …' : ''})`;

/** The status lines of the migration stage, the canary's composition and traffic, and the application's shape. */
function compatLines(s: RolloutReport): string[] {
  const out = [`  migration stage: ${pc.bold(s.migrationStage.name)} (${s.migrationStage.meaning})`];
  const c = s.canary;
  out.push(`  canary: ${formatPercentage(c.percentage)} of units by bucket; include ${units(c.include)}; exclude ${units(c.exclude)}`);
  if (c.traffic) {
    const t = c.traffic;
    const shadow =
      t.new.comparisons + t.old.comparisons > 0
        ? `; shadow ${t.new.comparisons + t.old.comparisons} comparisons, ${t.new.mismatches + t.old.mismatches} mismatches`
        : '';
    out.push(`  last hour: new ${t.new.requests} requests (${t.new.errors} errors), old ${t.old.requests} requests (${t.old.errors} errors)${shadow}`);
  }
  if (s.shape) out.push(`  shape: new cohort reads ${[...s.shape.new, ...s.shape.base].join(', ')}; old ${[...s.shape.old, ...s.shape.base].join(', ')}`);
  return out;
}
