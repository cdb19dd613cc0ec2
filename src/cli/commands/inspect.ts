import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { guidanceLines } from '../../workflow/app-guidance.js';
import type { CheckMode } from '../../workflow/check-store.js';
import { driftHint } from '../../workflow/plan-state.js';
import { migrationLog, migrationStatus } from '../../workflow/status.js';
import { type MigrationVerification, verify } from '../../workflow/verify.js';
import { type ChecksVerdict, checkLines, checkProgressDisplay, checksSummary, checksVerdict, dataErrorsLine } from '../checks-output.js';
import { type CommandContext, type GlobalOptions, withDatabase } from '../context.js';
import { runOnFleet, statusOnFleet } from '../fleet-output.js';
import { wholeNumber } from '../numbers.js';
import { pc, phaseLabel } from '../output.js';
import { backfillLine } from '../progress.js';
import { withMigration } from '../target.js';

/** `ferry status`, `ferry verify` and `ferry log`: the commands that read. */
export function registerInspectCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('every migration (or one): its phase, applied steps, drift, and what the application may run now')
    .argument('[id]', 'migration id; default: all')
    .addHelpText(
      'after',
      "\nEach migration shows its phase's line of docs/lifecycle.md: what is live now, the next gate, what the\napplication must do before the next step, and which application versions may run.\n\nExamples:\n  ferry status\n  ferry status split_full_name\n  ferry status --env production --json",
    )
    .action(async (id: string | undefined) => {
      if (await statusOnFleet(globals(), id)) return;
      await withDatabase(globals(), id, 'status', async (ctx) => {
        const only = id === undefined ? {} : { only: ctx.selected.map((m) => m.id) };
        const s = await migrationStatus(ctx.db, ctx.migrations, { archived: ctx.run.archived ?? [], ...only });
        ctx.out.line(`${pc.bold('target')} ${ctx.db.target} ${pc.dim(`(env ${ctx.conn.env})`)}`);
        if (s.migrations.length === 0) ctx.out.line('no migrations yet: `ferry new <name> --type … --strategy …`');
        for (const m of s.migrations) {
          const steps = m.steps.map((x) => (x.applied ? pc.green(x.baseline ? '≡' : '●') : pc.dim('○'))).join('');
          const toContract = m.contractPendingCount ? pc.dim(` (${m.contractPendingCount} to contract)`) : '';
          ctx.out.line(
            `${steps} ${pc.bold(m.id)}  ${phaseLabel(m.phase)}  ${m.appliedCount}/${m.steps.length} steps${toContract}  ${pc.dim(`${m.type}, ${m.strategy}`)}`,
          );
          for (const d of m.drift) ctx.out.line(`    ${pc.red('drift')} ${d.problem}`);
          for (const b of m.backfills) ctx.out.line(`  ${backfillLine(b)}`);
          for (const c of m.checks) ctx.out.line(`  ${checkLines(c, 5).join('\n  ')}`);
          if (m.checksPending.length) ctx.out.line(pc.dim(`    checks not run: ${m.checksPending.join(', ')} (\`ferry verify ${m.id} --full\`)`));
          if (id !== undefined || (m.phase !== null && m.phase !== 'archived')) for (const l of guidanceLines(m.guidance)) ctx.out.line(pc.dim(`    ${l}`));
        }
        for (const d of s.drift.filter((x) => x.kind === 'missing-folder')) ctx.out.line(`${pc.red('drift')} ${d.problem}`);
        ctx.out.result(s);
        if (s.drift.length) {
          throw new FerryError('E_DRIFT', `${s.drift.length} drift problem(s) found`, driftHint(s.drift));
        }
      });
    });

  program
    .command('verify')
    .description("run the verify SQL of applied steps; with --full or --sample, the migration's data checks too")
    .argument('[id]', 'migration id; default: all')
    .option(
      '--status',
      'say whether the migration is complete (all steps applied and verified, every declared check run and passed), which checks ran when, and which never ran; the exit code says it too',
    )
    .option('--full', 'run every declared check: counts, row diffs, full chunked checksums, schema assertions')
    .option('--sample <n>', 'compare N random keys per diff/checksum check instead of everything (does not satisfy the verify gate)')
    .option('--check <name>', 'run only this check (repeatable); implies --full unless --sample is given', (v: string, all: string[] = []) => [...all, v])
    .addHelpText(
      'after',
      `\nExit codes: 0 all checks pass (with --status: complete), 12 a check failed (with --status: incomplete).\n\nA rolled-out migration moves to verified when its steps verify and every declared check's\nlatest --full result passes.\n\nExamples:\n  ferry verify\n  ferry verify split_full_name --full\n  ferry verify split_full_name --sample 1000 --check names-match\n  ferry verify split_full_name --status --json`,
    )
    .action(async (id: string | undefined, o: { status?: boolean; full?: boolean; sample?: string; check?: string[] }) => {
      const mode = checkMode(o);
      const flags = { '--status': o.status, '--sample': o.sample !== undefined, '--check': Boolean(o.check?.length) };
      if (await runOnFleet(globals(), { command: 'verify', id, full: o.full }, flags)) return;
      await withDatabase(globals(), id, 'verify', async (ctx) => {
        const results = await verifyWithChecks(ctx, mode, o);
        // Complete means the steps are applied and verify, and every declared data check's latest result passed.
        const withChecks = results.map((r) => ({ ...r, stepsComplete: r.complete, dataChecks: checksVerdict(r) }));
        for (const r of withChecks) r.complete = r.stepsComplete && r.dataChecks.complete;
        for (const r of withChecks) printVerification(ctx, r, Boolean(o.status));
        ctx.out.result({ migrations: withChecks, complete: withChecks.every((r) => r.complete), ok: withChecks.every((r) => r.ok) });
        const bad = o.status ? withChecks.filter((r) => !r.complete) : withChecks.filter((r) => !r.ok);
        if (bad.length) {
          const what = o.status ? 'not complete' : 'failed verification';
          const pending = bad.some((r) => r.steps.some((s) => !s.applied && !s.contract));
          const failing = bad.some((r) => !r.ok);
          const unchecked = o.status ? bad.filter((r) => r.dataChecks.neverRan.length) : [];
          const hint = [
            pending ? 'run `ferry up` to apply the pending steps' : '',
            failing ? 'fix what the failing checks above show' : '',
            unchecked.length ? `run the checks that never ran: ${unchecked.map((r) => `\`ferry verify ${r.migrationId} --full\``).join(', ')}` : '',
          ]
            .filter(Boolean)
            .join('; ');
          throw new FerryError('E_VERIFY', `${bad.map((r) => r.migrationId).join(', ')} ${what}`, `${hint}, then verify again`);
        }
      });
    });

  program
    .command('log')
    .description('the event log: who did what, when, from which phase to which, and why')
    .argument('[id]', 'migration id; default: all')
    .addHelpText('after', '\nExamples:\n  ferry log\n  ferry log split_full_name --json')
    .action(async (id: string | undefined) => {
      const print = async (ctx: CommandContext, migrationId: string | undefined) => {
        const { events } = await migrationLog(ctx.db, migrationId);
        for (const e of events) {
          const move = e.fromPhase || e.toPhase ? ` ${e.fromPhase ?? '∅'} → ${pc.bold(e.toPhase ?? '∅')}` : '';
          const step = e.stepId ? ` ${e.stepId}` : '';
          ctx.out.line(
            `${pc.dim(e.at.toISOString())} ${e.migrationId} ${pc.magenta(e.kind)}${step}${move} ${pc.dim(`by ${e.actor}`)}${e.reason ? ` — ${e.reason}` : ''}`,
          );
        }
        if (events.length === 0) ctx.out.line('no events yet');
        ctx.out.result({ events });
      };
      // An archived migration's log stays readable after cleanup moved its folder.
      if (id === undefined) await withDatabase(globals(), undefined, 'log', (ctx) => print(ctx, undefined));
      else await withMigration(globals(), id, 'log', (ctx, m) => print(ctx, m.id));
    });
}

/** The check mode the flags ask for, or undefined for the step verifies only. */
function checkMode(o: { full?: boolean; sample?: string; check?: string[] }): { mode: CheckMode; size?: number } | undefined {
  if (o.sample !== undefined) {
    const size = wholeNumber('--sample (keys to compare)', o.sample, { min: 1 }, '--sample 1000');
    if (o.full) throw new FerryError('E_USAGE', '--full and --sample exclude each other', 'choose one');
    return { mode: 'sample', size };
  }
  return o.full || o.check?.length ? { mode: 'full' } : undefined;
}

/** Verify the selected migrations, running their declared checks when a mode is given (other environments opened as checks name them). */
async function verifyWithChecks(
  ctx: CommandContext,
  mode: { mode: CheckMode; size?: number } | undefined,
  o: { check?: string[] },
): Promise<MigrationVerification[]> {
  const display = checkProgressDisplay((l) => ctx.out.line(l), Boolean(process.stdout.isTTY) && !ctx.out.json);
  try {
    const checks = mode && {
      mode: mode.mode,
      ...(mode.size === undefined ? {} : { sampleSize: mode.size }),
      ...(o.check?.length ? { only: o.check } : {}),
      ...(ctx.out.json ? {} : { onProgress: display.update }),
    };
    return await verify(ctx.db, ctx.selected, {
      actor: ctx.actor,
      lockWaitMs: ctx.lockWaitMs,
      project: ctx.project,
      conn: ctx.conn,
      ...(checks ? { checks } : {}),
    });
  } finally {
    display.stop();
  }
}

/** The human lines of one migration's verification: steps, checks with their differences, the gate. */
function printVerification(ctx: CommandContext, r: MigrationVerification & { stepsComplete: boolean; dataChecks: ChecksVerdict }, status: boolean): void {
  const why = r.stepsComplete ? ' (steps complete; the data checks are not all run and passed)' : '';
  const head = status ? (r.complete ? pc.green('complete') : pc.yellow(`incomplete${why}`)) : r.ok ? pc.green('ok') : pc.red('failed');
  ctx.out.line(`${pc.bold(r.migrationId)}  ${head}  ${phaseLabel(r.phase)}`);
  for (const s of r.steps) {
    const mark = {
      pass: pc.green('✔ pass'),
      fail: pc.red('✘ fail'),
      'no-check': pc.dim('– no verify'),
      'not-applied': pc.dim(s.contract ? '○ at contract' : '○ not applied'),
    }[s.result];
    ctx.out.line(`  ${mark}  ${s.stepId}`);
    for (const f of s.failures) ctx.out.line(`      ${pc.red(f)}`);
  }
  for (const c of r.checks) for (const l of checkLines(c)) ctx.out.line(l);
  if (r.dataErrors.total > 0) ctx.out.line(`  ${pc.red(dataErrorsLine(r.dataErrors))}`);
  if (r.checksPending.length) ctx.out.line(pc.dim(`  checks not run: ${r.checksPending.join(', ')} (\`ferry verify ${r.migrationId} --full\`)`));
  const summary = checksSummary(r.dataChecks);
  if (status && summary) ctx.out.line(summary);
  if (r.verified) ctx.out.line(`  ${pc.magenta('phase')} rolled-out → ${pc.bold('verified')}`);
  if (r.notVerified) ctx.out.line(`  ${pc.yellow('not verified:')} ${r.notVerified}`);
  if (r.unverified) ctx.out.line(`  ${pc.magenta('phase')} verified → ${pc.bold('rolled-out')}: ${r.unverified}`);
}
