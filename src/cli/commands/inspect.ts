import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { readEvents } from '../../migration/state.js';
import { migrationStatus } from '../../workflow/status.js';
import { verifyMigrations } from '../../workflow/verify.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { pc, phaseLabel } from '../output.js';
import { backfillLine } from '../progress.js';

/** `ferry status`, `ferry verify` and `ferry log`: the commands that read. */
export function registerInspectCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('status')
    .description('every migration: its phase, applied steps and drift')
    .addHelpText('after', '\nExamples:\n  ferry status\n  ferry status --env production --json')
    .action(async () => {
      await withDatabase(globals(), undefined, 'status', async (ctx) => {
        const s = await migrationStatus(ctx.db, ctx.migrations);
        ctx.out.line(`${pc.bold('target')} ${ctx.db.target} ${pc.dim(`(env ${ctx.conn.env})`)}`);
        if (s.migrations.length === 0) ctx.out.line('no migrations yet: `ferry new <name> --type … --strategy …`');
        for (const m of s.migrations) {
          const steps = m.steps.map((x) => (x.applied ? pc.green(x.baseline ? '≡' : '●') : pc.dim('○'))).join('');
          ctx.out.line(`${steps} ${pc.bold(m.id)}  ${phaseLabel(m.phase)}  ${m.appliedCount}/${m.steps.length} steps  ${pc.dim(`${m.type}, ${m.strategy}`)}`);
          for (const d of m.drift) ctx.out.line(`    ${pc.red('drift')} ${d.problem}`);
          for (const b of m.backfills) ctx.out.line(`  ${backfillLine(b)}`);
        }
        for (const d of s.drift.filter((x) => x.stepId === undefined)) ctx.out.line(`${pc.red('drift')} ${d.problem}`);
        ctx.out.result(s);
        if (s.drift.length) {
          throw new FerryError(
            'E_DRIFT',
            `${s.drift.length} drift problem(s) found`,
            'restore the applied files from version control, or roll back with the original files',
          );
        }
      });
    });

  program
    .command('verify')
    .description('run the verify SQL of applied steps')
    .argument('[id]', 'migration id; default: all')
    .option('--status', 'say whether the migration is complete (all steps applied and verified); the exit code says it too')
    .addHelpText(
      'after',
      `\nExit codes: 0 all checks pass (with --status: complete), 12 a check failed (with --status: incomplete).\n\nExamples:\n  ferry verify\n  ferry verify split_full_name --status --json`,
    )
    .action(async (id: string | undefined, o: { status?: boolean }) => {
      await withDatabase(globals(), id, 'verify', async (ctx) => {
        const results = await verifyMigrations(ctx.db, ctx.selected, { actor: ctx.actor, record: true });
        for (const r of results) {
          const head = o.status ? (r.complete ? pc.green('complete') : pc.yellow('incomplete')) : r.ok ? pc.green('ok') : pc.red('failed');
          ctx.out.line(`${pc.bold(r.migrationId)}  ${head}  ${phaseLabel(r.phase)}`);
          for (const s of r.steps) {
            const mark = { pass: pc.green('✔ pass'), fail: pc.red('✘ fail'), 'no-check': pc.dim('– no verify'), 'not-applied': pc.dim('○ not applied') }[
              s.result
            ];
            ctx.out.line(`  ${mark}  ${s.stepId}`);
            for (const f of s.failures) ctx.out.line(`      ${pc.red(f)}`);
          }
        }
        ctx.out.result({ migrations: results, complete: results.every((r) => r.complete), ok: results.every((r) => r.ok) });
        const bad = o.status ? results.filter((r) => !r.complete) : results.filter((r) => !r.ok);
        if (bad.length) {
          const what = o.status ? 'not complete' : 'failed verification';
          const pending = bad.some((r) => r.steps.some((s) => !s.applied));
          const failing = bad.some((r) => !r.ok);
          const hint = [pending ? 'run `ferry up` to apply the pending steps' : '', failing ? 'fix what the failing checks above show' : '']
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
      await withDatabase(globals(), id, 'log', async (ctx) => {
        const events = await readEvents(ctx.db, id === undefined ? undefined : ctx.selected[0]?.id);
        for (const e of events) {
          const move = e.fromPhase || e.toPhase ? ` ${e.fromPhase ?? '∅'} → ${pc.bold(e.toPhase ?? '∅')}` : '';
          const step = e.stepId ? ` ${e.stepId}` : '';
          ctx.out.line(
            `${pc.dim(e.at.toISOString())} ${e.migrationId} ${pc.magenta(e.kind)}${step}${move} ${pc.dim(`by ${e.actor}`)}${e.reason ? ` — ${e.reason}` : ''}`,
          );
        }
        if (events.length === 0) ctx.out.line('no events yet');
        ctx.out.result({ events });
      });
    });
}
