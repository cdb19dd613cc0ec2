import { join } from 'node:path';
import type { Command } from 'commander';
import type { BackupRecord } from '../../docs/state.js';
import { FerryError } from '../../errors.js';
import { backup, backupTargets, restore } from '../../workflow/backup.js';
import { cleanup } from '../../workflow/cleanup.js';
import { lossName } from '../../workflow/data-loss.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { pc, phaseLine } from '../output.js';
import { dumpAccess, withMigration } from '../target.js';

/** Where backups go: `--dir` (from the working directory), else `.ferry/backups` in the project. */
export const backupDir = (root: string, dir: string | undefined) => (dir ? join(process.cwd(), dir) : join(root, '.ferry', 'backups'));

/** The line of the backup guarding a crossing: taken now, or a recent one relied on. */
export function backupLine(b: BackupRecord & { reused: boolean }): string {
  const what = b.objects.map((t) => `${t.table} ${t.rows} rows`).join(', ');
  return b.reused
    ? `${pc.green('backup')} ${b.id} (${b.method}, taken ${b.createdAt.slice(0, 19).replace('T', ' ')} UTC, since verification): ${what}`
    : `${pc.green('backup')} ${b.id} (${b.method}): ${what}`;
}

/** `ferry backup`, `ferry restore` and `ferry cleanup`: the last phase of the workflow, guarded by a backup. */
export function registerCleanupCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('backup')
    .description('save the tables cleanup will drop, or drop columns of (pg_dump on a server, a COPY-based format on PGlite)')
    .argument('<id>', 'migration id')
    .option('--dir <path>', 'where to write it (default: .ferry/backups in the project)')
    .addHelpText(
      'after',
      '\nThe backup is listed in schema ferry with its time, row counts and an md5 of each table;\n`ferry restore` checks them.\n\nExamples:\n  ferry backup split_full_name\n  ferry backup split_full_name --env production --dir /var/backups/ferry',
    )
    .action(async (id: string, o: { dir?: string }) => {
      await withMigration(
        globals(),
        id,
        'backup',
        async (ctx, m) => {
          const access = dumpAccess(ctx);
          const b = await backup(ctx.db, m, {
            dir: backupDir(ctx.project.root, o.dir),
            actor: ctx.actor,
            lockWaitMs: ctx.lockWaitMs,
            ...(access ? { access } : {}),
          });
          ctx.out.line(`${pc.green('backup')} ${pc.bold(b.id)} (${b.method}) → ${b.location}`);
          for (const t of b.objects) ctx.out.line(`  ${t.table}: ${t.rows} rows, md5 ${t.md5.slice(0, 12)}`);
          for (const s of b.skipped) ctx.out.line(pc.dim(`  ${s}: not in the database any more, skipped`));
          ctx.out.result(b);
        },
        (_ctx, m) => {
          backupTargets(m);
        },
      );
    });

  program
    .command('restore')
    .description('recreate the tables of a backup and load their data (checks row counts and checksums); or put back the values `down` saved')
    .argument('<backup>', 'backup id (see `ferry backup`) or the path of its folder')
    .option('--replace', 'drop tables that exist and replace them with the backed-up copy (rows written since are lost)')
    .addHelpText(
      'after',
      '\nThe full rollback tier. Runs in one transaction: if a checksum does not match, nothing is kept.\nA copy `down --accept-data-loss` saved goes back into its re-added column (UPDATE by key, in\nbatches) or table; run `ferry up` first, restore refuses while they are absent.\n\nExamples:\n  ferry restore 20261130T101500Z_split_full_name_k3x9\n  ferry restore 20261130T101500Z_split_full_name_k3x9 --replace --env production',
    )
    .action(async (ref: string, o: { replace?: boolean }) => {
      await withDatabase(globals(), undefined, 'restore', async (ctx) => {
        const r = await restore(ctx.db, ref, { actor: ctx.actor, replace: Boolean(o.replace), lockWaitMs: ctx.lockWaitMs });
        ctx.out.line(`${pc.green('restored')} ${r.backupId}`);
        for (const t of r.tables) ctx.out.line(`  ${t.table}: ${t.rows} rows, md5 ${t.md5.slice(0, 12)} matches the backup${t.replaced ? ' (replaced)' : ''}`);
        for (const v of r.values ?? []) {
          ctx.out.line(
            `  ${lossName(v)}: ${v.restored} of ${v.saved} saved rows restored${v.notRestored ? ` (${v.notRestored} ${v.column === undefined ? 'already there' : 'no longer in the table'})` : ''}`,
          );
        }
        for (const t of r.triggersNotRestored) ctx.out.line(pc.yellow(`  not restored (recreate it if still wanted): ${t}`));
        ctx.out.result(r);
      });
    });

  program
    .command('cleanup')
    .description('after the deprecation period: contract (gates, backup, contract steps: the point of no return), flag tombstone, archive')
    .argument('<id>', 'migration id')
    .option('--force', 'clean up before the deprecation period has passed, or while an old API version still has traffic (needs --reason)')
    .option('--reason <text>', 'why cleanup is forced; recorded in the log')
    .option('--dir <path>', 'where to write the backup (default: .ferry/backups in the project)')
    .addHelpText(
      'after',
      '\nRefused unless the migration is verified, passes the gates of `ferry contract` (every check\'s\nlatest result passes, health not red, no unresolved rollback) and its deprecation period\n(plan.deprecationPeriod, default 90d, counted from reaching 100 %) has passed; also refused\nwhile an old version of the API of its manifest had a call within api.consumerWindow (default 7d;\nsee `ferry consumers`). --force skips only those two, never failing data. Contract takes the backup (cleanup never a\nsecond), runs the contract steps and graduates the flag; cleanup then keeps the flag as a\ngraduated tombstone, moves the folder to migrations/archive/YYYYMM/ and the migration\ncontracted → archived. Run it again to finish an interrupted cleanup.\n\nExamples:\n  ferry cleanup split_full_name\n  ferry cleanup split_full_name --force --reason "no client on the old API since the v3 release"',
    )
    .action(async (id: string, o: { force?: boolean; reason?: string; dir?: string }) => {
      if (o.force && !o.reason?.trim())
        throw new FerryError('E_USAGE', 'cleanup --force needs --reason "…"', 'say why the deprecation period is cut short; it goes into the log');
      if (o.reason !== undefined && !o.force) throw new FerryError('E_USAGE', '--reason only applies with --force', `ferry cleanup ${id} --force --reason "…"`);
      await withMigration(globals(), id, 'cleanup', async (ctx, m) => {
        const access = dumpAccess(ctx);
        // The contract steps report while they run, after the backup; hold their lines so the output follows that order.
        const print = ctx.run.onProgress;
        const held: Parameters<NonNullable<typeof print>>[0][] = [];
        const r = await cleanup(ctx.db, m, {
          run: print ? { ...ctx.run, onProgress: (e) => held.push(e) } : ctx.run,
          lockWaitMs: ctx.lockWaitMs,
          backupDir: backupDir(ctx.project.root, o.dir),
          migrationsDir: ctx.project.migrationsDir,
          ...(access ? { access } : {}),
          ...(o.force && o.reason ? { force: { reason: o.reason } } : {}),
        });
        if (r.forced) {
          const early = r.deprecation.elapsedMs < r.deprecation.periodMs || r.oldApiCalls.length === 0;
          const what = [early ? 'before the deprecation period passed' : '', r.oldApiCalls.length ? 'while the old API still had traffic' : ''].filter(Boolean);
          ctx.out.line(pc.yellow(`forced ${what.join(' and ')}: ${r.forced}`));
        }
        for (const c of r.oldApiCalls)
          ctx.out.line(pc.yellow(`  old API still called by ${c.consumer} (${c.version}, last seen ${c.lastSeen.slice(0, 16).replace('T', ' ')} UTC)`));
        if (r.backup) ctx.out.line(backupLine(r.backup));
        for (const e of held) print?.(e);
        const phase = (t: { from: string; to: string }) => ctx.out.line(phaseLine(m.id, t.from, t.to));
        const contracted = r.contract.transitions.length;
        r.transitions.slice(0, contracted).forEach(phase);
        if (r.contract.flagGraduated) ctx.out.line(`${pc.magenta('flag')} ${r.contract.flagGraduated} graduated: on for everyone for good`);
        if (r.flagTombstone) ctx.out.line(`${pc.magenta('flag')} ${r.flagTombstone} kept as a graduated tombstone (SDKs still asking get true, and a warning)`);
        ctx.out.line(`${pc.green('archived')} ${m.id} → ${r.archivedTo}`);
        r.transitions.slice(contracted).forEach(phase);
        ctx.out.result(r);
      });
    });
}
