import { Argument, type Command } from 'commander';
import { FerryError } from '../../errors.js';
import type { Migration } from '../../migration/loader.js';
import { ensureState } from '../../migration/state.js';
import {
  advanceRollout,
  formatHold,
  formatPercentage,
  type Lifecycle,
  parsePercentage,
  type RolloutMove,
  type RolloutTarget,
  rolloutStatus,
  setRollout,
  stagesOf,
} from '../../rollout/index.js';
import { MIGRATION_LOCK_KEY } from '../../workflow/execute.js';
import { currentPhase, transition } from '../../workflow/lifecycle.js';
import { type CommandContext, type GlobalOptions, withDatabase } from '../context.js';
import { pc } from '../output.js';

const life: Lifecycle = { currentPhase, transition };

function targetOf(m: Migration): RolloutTarget {
  return { id: m.id, flag: m.manifest.flag, stages: stagesOf(m.manifest.rollout), hasBackfill: m.steps.some((s) => s.kind === 'backfill') };
}

function printMove(ctx: CommandContext, move: RolloutMove): void {
  for (const p of move.phases) ctx.out.line(`${pc.magenta('phase')} ${move.migrationId}: ${p.from} → ${pc.bold(p.to)}`);
  ctx.out.line(
    `${pc.magenta('rollout')} ${move.migrationId}: flag ${move.flag} ${formatPercentage(move.fromPercentage)} → ${pc.bold(formatPercentage(move.toPercentage))}${move.early ? pc.yellow('  (early)') : ''}`,
  );
  ctx.out.result(move);
}

async function moving(g: GlobalOptions, id: string, purpose: string, fn: (ctx: CommandContext, t: RolloutTarget) => Promise<RolloutMove>): Promise<void> {
  await withDatabase(g, id, purpose, async (ctx) => {
    const t = targetOf(ctx.selected[0] as Migration);
    const move = await ctx.db.withAdvisoryLock(MIGRATION_LOCK_KEY, ctx.lockWaitMs, async () => {
      await ensureState(ctx.db);
      return fn(ctx, t);
    });
    printMove(ctx, move);
  });
}

/** `ferry rollout <id> set|advance|status`: a migration's flag through its stages (canary → rolling → rolled-out). */
export function registerRolloutCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('rollout')
    .description("move a migration's flag through its stage schedule (default 5, 25, 50, 75, 100 %, each held 24 h)")
    .argument('<id>', 'migration id')
    .addArgument(
      new Argument('<action>', 'set <pct>: set the percentage; advance: next stage once the hold elapsed; status').choices(['set', 'advance', 'status']),
    )
    .argument('[pct]', 'for set: a percentage like 5, 12.5 or 5%')
    .option('--now', 'advance before the hold has elapsed (needs --reason)')
    .option('--reason <text>', "why, for the migration's log")
    .addHelpText(
      'after',
      '\nRollout starts from backfilled (or expanded without a backfill step): expanded|backfilled → canary (first stage)\n→ rolling → rolled-out (100 %).\n\nExamples:\n  ferry rollout split_full_name set 5\n  ferry rollout split_full_name advance\n  ferry rollout split_full_name advance --now --reason "metrics green, release window closes"\n  ferry rollout split_full_name status',
    )
    .action(async (id: string, action: 'set' | 'advance' | 'status', pctText: string | undefined, o: { now?: boolean; reason?: string }) => {
      const g = globals();
      if (action === 'status') {
        if (pctText !== undefined) throw new FerryError('E_USAGE', `rollout status takes no percentage ("${pctText}")`, `ferry rollout ${id} status`);
        return status(g, id);
      }
      if (action === 'set') {
        if (pctText === undefined) throw new FerryError('E_USAGE', 'rollout set needs a percentage', `e.g. ferry rollout ${id} set 5`);
        if (o.now) throw new FerryError('E_USAGE', '--now only applies to advance', `ferry rollout ${id} set ${pctText}`);
        const pct = parsePercentage(pctText, 0.01);
        return moving(g, id, 'rollout set', (ctx, t) =>
          ctx.db.transaction((tx) => setRollout(tx, t, pct, { actor: ctx.actor, life, ...(o.reason ? { reason: o.reason } : {}) })),
        );
      }
      if (pctText !== undefined)
        throw new FerryError('E_USAGE', `advance moves to the next stage and takes no percentage ("${pctText}")`, `use \`ferry rollout ${id} set ${pctText}\``);
      if (o.now && !o.reason?.trim())
        throw new FerryError('E_USAGE', 'advance --now needs --reason "…"', 'say why the hold is cut short; it goes into the log');
      return moving(g, id, 'rollout advance', (ctx, t) =>
        ctx.db.transaction((tx) => advanceRollout(tx, t, { actor: ctx.actor, life, ...(o.now && o.reason ? { now: { reason: o.reason } } : {}) })),
      );
    });
}

async function status(g: GlobalOptions, id: string): Promise<void> {
  await withDatabase(g, id, 'rollout status', async (ctx) => {
    const s = await rolloutStatus(ctx.db, targetOf(ctx.selected[0] as Migration));
    const out = ctx.out;
    out.line(`${pc.bold(s.migrationId)}  phase ${s.phase ?? 'planned'}  flag ${s.flag ?? pc.yellow('(none)')}`);
    if (!s.started) out.line(`  not started; first stage ${formatPercentage(s.stages[0]?.percent ?? 0)}`);
    else {
      out.line(`  stage ${s.stage}/${s.stages.length} at ${formatPercentage(s.percentage)}${s.flagEnabled ? '' : pc.yellow('  (flag off: quick rollback)')}`);
      out.line(`  held ${formatHold(s.heldMs)} of ${formatHold(s.holdMs)}${s.remainingMs > 0 ? `, ${formatHold(s.remainingMs)} remaining` : ', hold elapsed'}`);
    }
    out.line(`  next: ${s.next ? `${formatPercentage(s.next.percent)} (held ${formatHold(s.next.holdMs)})` : 'none, 100 % is the last stage'}`);
    out.result(s);
  });
}
