import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { ensureMigrationRecord, ensureState } from '../../migration/state.js';
import { MIGRATION_LOCK_KEY } from '../../workflow/execute.js';
import { transition } from '../../workflow/lifecycle.js';
import { rehearse } from '../../workflow/rehearse.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { pc } from '../output.js';

/** `ferry approve` and `ferry rehearse`: gates before a migration runs for real. */
export function registerLifecycleCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('approve')
    .description('approve a planned migration (planned → approved)')
    .argument('<id>', 'migration id')
    .option('--reason <text>', 'why it is approved', 'approved')
    .addHelpText(
      'after',
      '\nThe approver is --by NAME, or $FERRY_ACTOR, or user@host.\n\nExample:\n  ferry approve split_full_name --by "Ada (Tech Lead)" --env production',
    )
    .action(async (id: string, o: { reason: string }) => {
      await withDatabase(globals(), id, 'approve', async (ctx) => {
        const m = ctx.selected[0];
        if (!m) throw new FerryError('E_NOT_FOUND', `no migration ${id}`);
        await ctx.db.withAdvisoryLock(MIGRATION_LOCK_KEY, ctx.lockWaitMs, async () => {
          await ensureState(ctx.db);
          await ensureMigrationRecord(ctx.db, m.id, m.manifest.title, m.checksum);
          await ctx.db.transaction((tx) => transition(tx, m.id, 'approved', { actor: ctx.actor, reason: o.reason }));
        });
        ctx.out.line(`${pc.magenta('phase')} ${m.id}: planned → ${pc.bold('approved')} by ${ctx.actor}`);
        ctx.out.result({ migrationId: m.id, phase: 'approved', by: ctx.actor });
      });
    });

  program
    .command('rehearse')
    .description('on a scratch copy: up → verify → down → compare schema → up again; proves the rollback')
    .argument('[id]', 'migration id; default: the latest migration')
    .addHelpText(
      'after',
      '\nThe copy is an in-memory PGlite for the local environment, or a temporary database\n(pg_dump --schema-only) on the server. The target is not changed; the result is logged.\n\nExample:\n  ferry rehearse split_full_name',
    )
    .action(async (id: string | undefined) => {
      await withDatabase(globals(), id, 'rehearse', async (ctx) => {
        const targets = id === undefined ? ctx.migrations.slice(-1) : ctx.selected;
        const reports = [];
        for (const m of targets) {
          ctx.out.line(`${pc.bold('rehearsing')} ${m.id}`);
          const quiet = { ...ctx.run };
          delete quiet.onProgress;
          const server =
            ctx.conn.driver === 'server' ? { url: ctx.conn.url, ...(ctx.conn.password === undefined ? {} : { password: ctx.conn.password }) } : undefined;
          const r = await rehearse(ctx.db, m, { ...quiet, lockWaitMs: ctx.lockWaitMs, ...(server ? { server } : {}) });
          ctx.out.line(pc.dim(`  copy: ${r.copy}`));
          for (const s of r.stages) {
            ctx.out.line(`  ${s.ok ? pc.green('✔') : pc.red('✘')} ${s.name}`);
            for (const d of s.detail) ctx.out.line(`      ${pc.red(d)}`);
          }
          ctx.out.line(r.ok ? pc.green('  rehearsal passed: the rollback restores the schema') : pc.red('  rehearsal FAILED'));
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
