import type { Command } from 'commander';
import { acknowledgeEdits, forget } from '../../workflow/drift.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { pc } from '../output.js';
import { withMigration } from '../target.js';

/** `ferry acknowledge` and `ferry forget`: the two recorded ways to end drift other than restoring the files. */
export function registerDriftCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('acknowledge')
    .description("accept reviewed edits of an applied migration (a step's rollback or verify SQL, manifest fields) as its recorded definition")
    .argument('<id>', 'migration id')
    .requiredOption('--reason <text>', 'why the edit is right; kept in the event log')
    .addHelpText(
      'after',
      '\nEditing an applied migration is drift: `up` and `down` refuse until the files are restored.\nA fixed rollback or verify query, or a manifest field such as the plan or the checks, may\nbe accepted instead: `down` then runs the new rollback. Edits of what was applied (forward\nSQL, step kind or flags, the point of no return, removed or reordered steps) cannot be\nacknowledged.\n\nExample:\n  ferry acknowledge split_full_name --reason "rollback also drops the index (review #412)"',
    )
    .action(async (id: string, o: { reason: string }) => {
      await withMigration(globals(), id, 'acknowledge', async (ctx, m) => {
        const r = await acknowledgeEdits(ctx.db, m, { actor: ctx.actor, reason: o.reason, lockWaitMs: ctx.lockWaitMs });
        if (r.acknowledged.length === 0) ctx.out.line(`nothing to acknowledge: ${m.id} matches what was applied`);
        for (const d of r.acknowledged) ctx.out.line(`${pc.green('acknowledged')} ${d.problem}`);
        ctx.out.result(r);
      });
    });

  program
    .command('forget')
    .description('forget an applied migration whose folder is gone on purpose (its changes stay in the database)')
    .argument('<id>', 'migration id, as `ferry status` names it')
    .requiredOption('--reason <text>', 'why it is gone; kept in the event log')
    .addHelpText(
      'after',
      '\nWhile an applied migration\'s folder is missing, `up` and `down` refuse. Restore the folder\nfrom version control, or, if it is gone on purpose, forget it: its record and applied\nsteps are removed, the event log keeps what was forgotten. Nothing is rolled back.\n\nExample:\n  ferry forget 20261101120000_experiment --reason "abandoned branch, objects dropped by hand"',
    )
    .action(async (id: string, o: { reason: string }) => {
      await withDatabase(globals(), undefined, 'forget', async (ctx) => {
        const r = await forget(ctx.db, ctx.migrations, id, { actor: ctx.actor, reason: o.reason, lockWaitMs: ctx.lockWaitMs });
        ctx.out.line(
          `${pc.yellow('forgot')} ${r.migrationId} (${r.phase}, ${r.steps.length} applied step(s): ${r.steps.join(', ') || 'none'}); its changes stay in the database`,
        );
        ctx.out.result(r);
      });
    });
}
