import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { approve, checkRole } from '../../workflow/approve.js';
import { DEFAULT_SAMPLE_ROWS, rehearse } from '../../workflow/rehearse.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { approveOnFleet } from '../fleet-output.js';
import { wholeNumber } from '../numbers.js';
import { pc, phaseLine } from '../output.js';
import { rehearsalLines } from '../rehearsal-output.js';
import { withMigration } from '../target.js';

/** `ferry approve` and `ferry rehearse`: gates before a migration runs for real. */
export function registerLifecycleCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('approve')
    .description('approve a planned migration for one role; planned → approved once every role of its plan has approved')
    .argument('<id>', 'migration id')
    .requiredOption('--as <role>', 'the role approving, one of the plan\'s "approvals" (default: Tech Lead, Product Owner, Stakeholders)')
    .option('--reason <text>', 'a note for the log')
    .addHelpText(
      'after',
      '\nThe approver is --by NAME, or $FERRY_ACTOR, or user@host. Each approval is recorded with the\nmigration\'s checksum: editing the migration afterwards voids it, and up and rollout are refused\nuntil every role approves again.\n\nExamples:\n  ferry approve split_full_name --as "Tech Lead" --by "Ada" --env production\n  ferry approve split_full_name --as "Product Owner" --reason "release notes ready"',
    )
    .action(async (id: string, o: { as: string; reason?: string }) => {
      if (await approveOnFleet(globals(), { id, role: o.as, reason: o.reason })) return;
      await withMigration(
        globals(),
        id,
        'approve',
        async (ctx, m) => {
          const result = await approve(ctx.db, m, { role: o.as, actor: ctx.actor, lockWaitMs: ctx.lockWaitMs, ...(o.reason ? { reason: o.reason } : {}) });
          ctx.out.line(`${pc.green('approved')} ${m.id} as ${pc.bold(result.approval.role)} by ${ctx.actor}`);
          if (result.moved) ctx.out.line(phaseLine(m.id, 'planned', 'approved'));
          else if (result.missing.length) ctx.out.line(pc.dim(`  still needed: ${result.missing.join(', ')}`));
          ctx.out.result(result);
        },
        (_ctx, m) => {
          checkRole(m, o.as);
        },
      );
    });

  program
    .command('rehearse')
    .description('on a scratch copy: up → verify → down → compare schema → up again; proves the rollback')
    .argument('[id]', 'migration id; default: the latest migration')
    .option('--sample-rows <n>', 'on a server: copy up to N rows (default 10000) of each table the steps touch, and the rows they reference; 0 = schema only')
    .option('--all-rows', 'on a server: copy every row of the tables the steps touch')
    .addHelpText(
      'after',
      "\nThe copy is a copy of the local PGlite data directory (schema and every row), or a temporary database on\nthe server: the schema (pg_dump --schema-only), ferry's state, and a sample of the tables the steps touch\n(read by short plain SELECTs; a table of at most N rows is copied whole). The report says per step how many\nrows its tables held in the rehearsal and in the source, and which steps ran on empty tables. The target is\nnot changed; the result is logged.\n\nExamples:\n  ferry rehearse split_full_name\n  ferry rehearse split_full_name --sample-rows 50000\n  ferry rehearse split_full_name --all-rows --json\n  ferry rehearse split_full_name --sample-rows 0    # schema only",
    )
    .action(async (id: string | undefined, o: { sampleRows?: string; allRows?: boolean }) => {
      if (o.allRows && o.sampleRows !== undefined)
        throw new FerryError('E_USAGE', '--all-rows and --sample-rows ask for different copies', 'give one of them: --all-rows, or --sample-rows N');
      const sampleRows = o.allRows
        ? 'all'
        : o.sampleRows === undefined
          ? DEFAULT_SAMPLE_ROWS
          : wholeNumber('--sample-rows', o.sampleRows, { min: 0 }, '--sample-rows 10000');
      await withDatabase(globals(), id, 'rehearse', async (ctx) => {
        const targets = id === undefined ? ctx.migrations.slice(-1) : ctx.selected;
        const reports = [];
        for (const m of targets) {
          ctx.out.line(`${pc.bold('rehearsing')} ${m.id}`);
          const quiet = { ...ctx.run };
          delete quiet.onProgress;
          const server =
            ctx.conn.driver === 'server' ? { url: ctx.conn.url, ...(ctx.conn.password === undefined ? {} : { password: ctx.conn.password }) } : undefined;
          const r = await rehearse(ctx.db, m, { ...quiet, lockWaitMs: ctx.lockWaitMs, migrations: ctx.migrations, sampleRows, ...(server ? { server } : {}) });
          for (const l of rehearsalLines(r)) ctx.out.line(l);
          reports.push(r);
        }
        ctx.out.result({ rehearsals: reports, ok: reports.every((r) => r.ok) });
        const bad = reports.filter((r) => !r.ok);
        if (bad.length)
          throw new FerryError(
            'E_REHEARSE',
            `rehearsal failed for ${bad.map((r) => r.migrationId).join(', ')}`,
            'fix the rollback SQL so down restores exactly what up changed, then rehearse again',
          );
      });
    });
}
