import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { type BackfillProgress, backfillProgress, controlBackfill } from '../../backfill/index.js';
import { isFerryError } from '../../errors.js';
import type { Migration } from '../../migration/loader.js';
import { up } from '../../workflow/apply.js';
import { backfillSteps, joinBackfill } from '../../workflow/backfill-join.js';
import type { RunOptions } from '../../workflow/step-report.js';
import { type CommandContext, type GlobalOptions, withDatabase } from '../context.js';
import { wholeNumber } from '../numbers.js';
import { pc } from '../output.js';
import { backfillLine } from '../progress.js';

const FERRY_BIN = fileURLToPath(new URL('../../../bin/ferry.js', import.meta.url));

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

/** Join the backfill another runner leads, waiting up to the lock wait for it to start. */
const join = (ctx: CommandContext, m: Migration, stepId: string | undefined): Promise<BackfillProgress[]> =>
  joinBackfill(ctx.db, m, {
    ...(stepId === undefined ? {} : { stepId }),
    waitMs: ctx.lockWaitMs,
    lockTimeoutMs: ctx.run.lockTimeoutMs,
    workerId: `${ctx.actor} pid ${process.pid}`,
  });

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
        await withDatabase(g, id, 'backfill', async (ctx) => {
          const m = ctx.selected[0] as Migration;
          const steps = backfillSteps(m, o.step);
          const action = o.pause ? 'pause' : o.cancel ? 'cancel' : o.resume ? 'resume' : undefined;
          if (action) {
            for (const s of steps) ctx.out.line(backfillLine(await controlBackfill(ctx.db, m.id, s.id, action, ctx.actor)));
            if (action !== 'resume') {
              ctx.out.result({ action, progress: await backfillProgress(ctx.db, m.id, o.step) });
              return;
            }
          }
          if (o.status) {
            const progress = await backfillProgress(ctx.db, m.id, o.step);
            for (const p of progress) ctx.out.line(backfillLine(p));
            if (progress.length === 0) ctx.out.line('no backfill has started yet');
            ctx.out.result({ progress });
            return;
          }
          if (o.join) {
            const progress = await join(ctx, m, o.step);
            for (const p of progress) ctx.out.line(backfillLine(p));
            ctx.out.result({ progress });
            return;
          }
          const last = steps.at(-1)?.id as string;
          const run = { ...ctx.run, requireApproval: ctx.conn.requireApproval, lockWaitMs: 0, until: last, envNote: `in environment ${ctx.conn.env}` };
          const starter = workerStarter(g, workers - 1);
          if (starter) run.startBackfillWorkers = starter;
          try {
            const report = await up(ctx.db, ctx.migrations, { ...run, only: m.id });
            for (const t of report.transitions) ctx.out.line(`${pc.magenta('phase')} ${t.migrationId}: ${t.from} → ${pc.bold(t.to)}`);
            ctx.out.result({ report, progress: await backfillProgress(ctx.db, m.id, o.step) });
          } catch (err) {
            // Another runner leads this migration: join its backfill as a worker instead.
            if (!isFerryError(err, 'E_LOCKED') || ctx.db.kind !== 'server') throw err;
            ctx.out.line(pc.dim(`another runner holds the migration lock; joining its backfill as a worker`));
            const progress = await join(ctx, m, o.step);
            for (const p of progress) ctx.out.line(backfillLine(p));
            ctx.out.result({ joined: true, progress });
          }
        });
      },
    );
}
