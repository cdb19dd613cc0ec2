import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Command, Option } from 'commander';
import type { Migration } from '../../migration/loader.js';
import { packageRoot } from '../../package-root.js';
import type { RunReport } from '../../workflow/apply.js';
import { backfill, backfillStatus, backfillSteps, controlBackfills, joinBackfill } from '../../workflow/backfill.js';
import type { RunOptions } from '../../workflow/step-report.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { runOnFleet } from '../fleet-output.js';
import { wholeNumber } from '../numbers.js';
import { pc, phaseLine } from '../output.js';
import { backfillLine } from '../progress.js';

const FERRY_BIN = join(packageRoot(), 'bin', 'ferry.js');

/** Spawn `count` worker processes that join the backfill (`ferry backfill <id> --join`). */
export function workerStarter(g: GlobalOptions, count: number): RunOptions['startBackfillWorkers'] {
  if (count <= 0) return undefined;
  return async (migrationId, stepId) => {
    const children: ChildProcess[] = [];
    const globals = [g.env ? ['--env', g.env] : [], g.project ? ['--project', g.project] : []].flat();
    for (let i = 0; i < count; i++) {
      children.push(spawn(process.execPath, [FERRY_BIN, 'backfill', migrationId, '--step', stepId, '--join', ...globals], { stdio: 'ignore' }));
    }
    return async () => {
      await Promise.all(children.map((c) => (c.exitCode !== null ? Promise.resolve() : new Promise((r) => c.once('exit', r)))));
    };
  };
}

/** `ferry backfill`: run, join, pause, resume or cancel a migration's backfill. */
export function registerBackfillCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backfill')
    .description("run a migration's backfill (up to and including its backfill steps), join one in progress, or pause / resume / cancel it")
    .argument('<id>', 'migration id')
    .option('--step <step>', 'only this backfill step')
    .option('--workers <n>', 'worker processes on this machine (1 = this process only)', '1')
    .option('--join', 'only work on a backfill another runner leads; do not apply or record steps')
    .addOption(
      new Option('--pause', 'pause it between batches (from any terminal on a server; on the embedded database stop the running process instead)').conflicts([
        'resume',
        'cancel',
      ]),
    )
    .addOption(new Option('--resume', 'clear a pause or cancel and continue here').conflicts(['cancel']))
    .option('--cancel', 'stop it between batches; the rows done stay done')
    .option('--status', 'show its progress from the checkpoint table')
    .addHelpText(
      'after',
      '\nThe same command started on several machines against one server shares one backfill:\nthe first leads (applies and records the steps), the others join as workers.\n\nExamples:\n  ferry backfill split_full_name --workers 4\n  ferry backfill split_full_name --pause\n  ferry backfill split_full_name --resume\n  ferry backfill split_full_name --status --json',
    )
    .action(
      async (id: string, o: { step?: string; workers: string; join?: boolean; pause?: boolean; resume?: boolean; cancel?: boolean; status?: boolean }) => {
        const workers = wholeNumber('--workers', o.workers, { min: 1, max: 64 }, '--workers 4');
        const g = globals();
        const flags = { '--workers': workers > 1, '--join': o.join, '--pause': o.pause, '--resume': o.resume, '--cancel': o.cancel, '--status': o.status };
        if (await runOnFleet(g, { command: 'backfill', id, stepId: o.step }, flags)) return;
        await withDatabase(g, id, 'backfill', async (ctx) => {
          const m = ctx.selected[0] as Migration;
          backfillSteps(m, o.step);
          const step = o.step === undefined ? {} : { stepId: o.step };
          const action = o.pause ? 'pause' : o.cancel ? 'cancel' : o.resume ? 'resume' : undefined;
          if (action) {
            for (const p of await controlBackfills(ctx.db, m, action, { ...step, actor: ctx.actor })) ctx.out.line(backfillLine(p));
            if (action !== 'resume') {
              ctx.out.result({ action, progress: await backfillStatus(ctx.db, m, o.step) });
              return;
            }
          }
          if (o.status) {
            const progress = await backfillStatus(ctx.db, m, o.step);
            for (const p of progress) ctx.out.line(backfillLine(p));
            if (progress.length === 0) ctx.out.line('no backfill has started yet');
            ctx.out.result({ progress });
            return;
          }
          const workerId = `${ctx.actor} pid ${process.pid}`;
          if (o.join) {
            const progress = await joinBackfill(ctx.db, m, { ...step, lockWaitMs: ctx.lockWaitMs, lockTimeoutMs: ctx.run.lockTimeoutMs, workerId });
            for (const p of progress) ctx.out.line(backfillLine(p));
            ctx.out.result({ progress });
            return;
          }
          const run = {
            ...ctx.run,
            ...step,
            workerId,
            requireApproval: ctx.conn.requireApproval,
            lockWaitMs: ctx.lockWaitMs,
            envNote: `in environment ${ctx.conn.env}`,
          };
          const starter = workerStarter(g, workers - 1);
          if (starter) run.startBackfillWorkers = starter;
          const r = await backfill(ctx.db, ctx.migrations, m, run);
          if (r.joined) {
            // Another runner leads this migration: this process joined its backfill as a worker instead.
            ctx.out.line(pc.dim(`another runner holds the migration lock; joining its backfill as a worker`));
            for (const p of r.progress) ctx.out.line(backfillLine(p));
            ctx.out.result({ joined: true, progress: r.progress });
            return;
          }
          const report = r.report as RunReport;
          for (const t of report.transitions) ctx.out.line(phaseLine(t.migrationId, t.from, t.to));
          ctx.out.result({ report, progress: r.progress });
        });
      },
    );
}
