import { join } from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { baseline, type RunReport, up } from '../../workflow/apply.js';
import { contract } from '../../workflow/contract.js';
import { lossName } from '../../workflow/data-loss.js';
import { down } from '../../workflow/rollback.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { runOnFleet } from '../fleet-output.js';
import { wholeNumber } from '../numbers.js';
import { type Output, pc, phaseLine } from '../output.js';
import { dumpAccess } from '../target.js';
import { workerStarter } from './backfill.js';
import { backupDir, backupLine } from './cleanup.js';

function summarise(out: Output, report: RunReport, nothing: string): void {
  for (const t of report.transitions) out.line(phaseLine(t.migrationId, t.from, t.to));
  if (report.steps.length === 0) out.line(nothing);
  if (report.dryRun) out.line(pc.cyan('dry-run: everything above ran in a transaction that was rolled back; nothing changed'));
  out.result(report);
}

/** `ferry up`, `ferry down` and `ferry baseline`: the commands that change the schema. */
export function registerRunCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('up')
    .description('apply pending steps in order (all migrations, or one)')
    .argument('[id]', 'migration id (folder name, or the name without its timestamp)')
    .option('--dry-run', 'run inside a transaction that is rolled back; print SQL, changes and locks')
    .option('--workers <n>', 'processes for backfill steps on this machine', '1')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry up\n  ferry up --workers 4\n  ferry up 20261127093000_split_full_name --dry-run\n  ferry up --env staging --json',
    )
    .action(async (id: string | undefined, o: { dryRun?: boolean; workers: string }) => {
      const workers = wholeNumber('--workers', o.workers, { min: 1, max: 64 }, '--workers 4');
      if (await runOnFleet(globals(), { command: 'up', id }, { '--dry-run': o.dryRun, '--workers': workers > 1 })) return;
      const starter = workerStarter(globals(), workers - 1);
      await withDatabase(globals(), id, 'up', async (ctx) => {
        const only = id === undefined ? undefined : ctx.selected[0]?.id;
        const report = await up(ctx.db, ctx.migrations, {
          ...ctx.run,
          ...(only === undefined ? {} : { only }),
          ...(starter ? { startBackfillWorkers: starter } : {}),
          requireApproval: ctx.conn.requireApproval,
          lockWaitMs: ctx.lockWaitMs,
          dryRun: Boolean(o.dryRun),
          envNote: `in environment ${ctx.conn.env}`,
        });
        summarise(ctx.out, report, 'nothing to apply: every step is already applied');
      });
    });

  program
    .command('down')
    .description('roll back applied steps in reverse order (the latest migration, or one)')
    .argument('[id]', 'migration id; default: the latest migration with applied steps')
    .option('--to <step>', 'roll back the steps after this one; it stays applied')
    .option('--dry-run', 'run inside a transaction that is rolled back; print SQL, changes and locks')
    .option('--accept-data-loss', 'drop values the old shape cannot regenerate (saved first into a backup `ferry restore` puts back)')
    .addHelpText(
      'after',
      '\nBefore dropping a column or table, down counts the rows holding values the old shape cannot\nregenerate (e.g. written by the new app into an added column) and refuses (exit 19) when\nthere are any, unless --accept-data-loss: then it saves them into .ferry/backups first.\n\nExamples:\n  ferry down\n  ferry down split_full_name --to add-columns\n  ferry down split_full_name --dry-run\n  ferry down add_preferences --accept-data-loss',
    )
    .action(async (id: string | undefined, o: { to?: string; dryRun?: boolean; acceptDataLoss?: boolean }) => {
      if (o.to !== undefined && id === undefined) throw new FerryError('E_USAGE', '--to needs a migration id', 'ferry down <id> --to <step>');
      const fleetArgs = { command: 'down' as const, id, to: o.to, acceptDataLoss: o.acceptDataLoss };
      if (await runOnFleet(globals(), fleetArgs, { '--dry-run': o.dryRun })) return;
      await withDatabase(globals(), id, 'down', async (ctx) => {
        const target = id === undefined ? undefined : ctx.selected[0]?.id;
        const opts = { ...ctx.run, lockWaitMs: ctx.lockWaitMs, dryRun: Boolean(o.dryRun), ...(o.to === undefined ? {} : { to: o.to }) };
        const dataLoss = o.acceptDataLoss ? ('save' as const) : ('refuse' as const);
        const report = await down(ctx.db, ctx.migrations, target, { ...opts, dataLoss, backupDir: join(ctx.project.root, '.ferry', 'backups') });
        for (const l of report.dataLoss) {
          const what = `${lossName(l)}: ${l.rows} row${l.rows === 1 ? '' : 's'} of values the old shape cannot regenerate (step ${l.stepId})`;
          ctx.out.line(`${pc.yellow('data loss')} ${what}${report.dryRun ? '; down needs --accept-data-loss, and saves them first' : ''}`);
        }
        if (report.saved)
          ctx.out.line(`${pc.green('saved')} in backup ${pc.bold(report.saved.id)} → restore with \`ferry restore ${report.saved.id}\` after \`ferry up\``);
        summarise(ctx.out, report, 'nothing to roll back');
      });
    });

  program
    .command('contract')
    .description('remove the old shape of a verified migration (its contract steps): the point of no return')
    .argument('<id>', 'migration id')
    .option('--dry-run', 'run inside a transaction that is rolled back; print SQL, changes and locks')
    .option('--dir <path>', 'where to write the backup (default: .ferry/backups in the project)')
    .addHelpText(
      'after',
      '\nRefused (E_GATE, nothing changed) unless it is verified, every declared check\'s latest result\npasses (and ran with --full), health is not red and no rollback is unresolved. Takes a backup of\nwhat it drops (unless one was taken since verification), runs the contract-phase steps\n(operations\' contract parts, and SQL steps with "phase": "contract"), graduates the flag (on for\neveryone for good) and moves the migration verified → contracted.\n\nExamples:\n  ferry contract split_full_name --dry-run\n  ferry contract split_full_name --env production',
    )
    .action(async (id: string, o: { dryRun?: boolean; dir?: string }) => {
      if (await runOnFleet(globals(), { command: 'contract', id, backupDir: o.dir }, { '--dry-run': o.dryRun })) return;
      await withDatabase(globals(), id, 'contract', async (ctx) => {
        const m = ctx.selected[0] as NonNullable<(typeof ctx.selected)[0]>;
        const access = dumpAccess(ctx);
        const backup = { dir: backupDir(ctx.project.root, o.dir), ...(access ? { access } : {}) };
        const report = await contract(ctx.db, m, { ...ctx.run, lockWaitMs: ctx.lockWaitMs, dryRun: Boolean(o.dryRun), backup });
        if (report.backup) ctx.out.line(backupLine(report.backup));
        if (report.flagGraduated) ctx.out.line(`${pc.magenta('flag')} ${report.flagGraduated} graduated: on for everyone for good`);
        summarise(ctx.out, report, 'nothing to contract');
      });
    });

  program
    .command('baseline')
    .description("record that the database already has a migration's changes, without running them")
    .argument('<id>', 'migration id')
    .option('--skip-verify', 'record even when the verify SQL does not pass')
    .addHelpText(
      'after',
      '\nAdopting a live database: write a migration that describes what is already there,\nthen `ferry baseline <id>` records it as applied (after its verify SQL passes).\n\nExample:\n  ferry baseline 20260101000000_initial_schema --env production',
    )
    .action(async (id: string, o: { skipVerify?: boolean }) => {
      await withDatabase(globals(), id, 'baseline', async (ctx) => {
        const report = await baseline(ctx.db, ctx.selected[0] as NonNullable<(typeof ctx.selected)[0]>, {
          ...ctx.run,
          requireApproval: false,
          lockWaitMs: ctx.lockWaitMs,
          skipVerify: Boolean(o.skipVerify),
        });
        for (const s of report.steps) ctx.out.line(`${pc.cyan('≡')} ${s.migrationId}/${pc.bold(s.stepId)} recorded as applied (not run)`);
        summarise(ctx.out, report, 'nothing to baseline: every step is already recorded');
      });
    });
}
