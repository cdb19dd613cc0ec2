import type { Command } from 'commander';
import { formatPercentage, parseFlagValue } from '../../rollout/index.js';
import { flagList, lookupFlag, removeFlag, setFlag } from '../../workflow/flags.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { pc } from '../output.js';

const show = (f: { enabled: boolean; percentage: number }) => (f.enabled ? formatPercentage(f.percentage) : 'off');
const graduation = (f: { graduatedAt: Date | null; tombstone: boolean }) => (f.tombstone ? '  graduated (tombstone)' : f.graduatedAt ? '  graduated' : '');

/** `ferry flag set|list|get|remove`: the flags applications read, and the quick rollback. */
export function registerFlagCommands(program: Command, globals: () => GlobalOptions): void {
  const flag = program
    .command('flag')
    .description('feature flags with sticky percentages: set, list, get, remove')
    .addHelpText(
      'after',
      '\nExamples:\n  ferry flag set split-full-name 5\n  ferry flag set split-full-name false   # quick rollback\n  ferry flag list --json\n  ferry flag get split-full-name --unit user-42\n  ferry flag remove split-full-name',
    );

  flag
    .command('set')
    .description('set a flag: true (everyone), false (nobody: the quick rollback) or a percentage of units; a graduated flag stays true')
    .argument('<key>', 'flag key (the "flag" of a migration\'s manifest)')
    .argument('<value>', 'true, false, or a percentage like 5, 12.5, 0.01 or 5%')
    .option('--reason <text>', "why, for the migration's log")
    .addHelpText(
      'after',
      '\nOnce its migration is contracted the flag has graduated: anything below 100 % is refused\n(E_POINT_OF_NO_RETURN, exit 10), since it would send units to a dropped column.\n\nExamples:\n  ferry flag set users.split-name 5\n  ferry flag set users.split-name false --reason "error rate up"   # quick rollback',
    )
    .action(async (key: string, text: string, o: { reason?: string }) => {
      const value = parseFlagValue(text);
      await withDatabase(globals(), undefined, 'flag set', async (ctx) => {
        const change = await setFlag(ctx.db, ctx.migrations, key, value, {
          actor: ctx.actor,
          lockWaitMs: ctx.lockWaitMs,
          ...(o.reason ? { reason: o.reason } : {}),
        });
        const from = change.from ? show(change.from) : 'absent';
        ctx.out.line(`${pc.magenta('flag')} ${key}: ${from} → ${pc.bold(show(value))}${change.quickRollback ? pc.yellow('  (quick rollback)') : ''}`);
        if (change.migrationId) ctx.out.line(pc.dim(`  recorded in the log of ${change.migrationId}`));
        ctx.out.result({ flag: key, ...value, change });
      });
    });

  flag
    .command('list')
    .addHelpText('after', '\nExample:\n  ferry flag list --env production --json')
    .description('every flag with its percentage and migration')
    .action(async () => {
      await withDatabase(globals(), undefined, 'flag list', async (ctx) => {
        const flags = await flagList(ctx.db);
        for (const f of flags)
          ctx.out.line(`${f.key.padEnd(32)} ${show(f).padStart(9)}  ${pc.dim(`${f.migrationId ?? '-'}  v${f.version} by ${f.updatedBy}${graduation(f)}`)}`);
        if (flags.length === 0) ctx.out.line('no flags are set');
        ctx.out.result({ flags });
      });
    });

  flag
    .command('get')
    .addHelpText('after', '\nExample:\n  ferry flag get split-full-name --unit user-42')
    .description("a flag's percentage, and for --unit its bucket and whether it is in")
    .argument('<key>', 'flag key')
    .option('--unit <id>', 'unit id (user, tenant …) to place in its bucket')
    .action(async (key: string, o: { unit?: string }) => {
      await withDatabase(globals(), undefined, 'flag get', async (ctx) => {
        const { lookup, record: f } = await lookupFlag(ctx.db, ctx.migrations, key, o.unit === undefined ? {} : { unit: o.unit });
        ctx.out.line(
          `${pc.bold(key)}: ${show(lookup)}${f ? pc.dim(`  (${f.migrationId ?? 'no migration'}, v${f.version})${graduation(f)}`) : pc.dim('  (not set yet)')}`,
        );
        if (o.unit !== undefined)
          ctx.out.line(`unit ${o.unit}: bucket ${lookup.bucket} of 10000 → ${lookup.in ? pc.green('in (new path)') : pc.yellow('out (old path)')}`);
        ctx.out.result(lookup);
      });
    });

  flag
    .command('remove')
    .addHelpText(
      'after',
      '\nRefused while a migration that names the flag is not verified, contracted or archived, and for a\ngraduated flag (its migration contracted): E_POINT_OF_NO_RETURN, since SDKs would answer their default.\n\nExample:\n  ferry flag remove split-full-name',
    )
    .description('delete a flag; refused while a migration that names it is not verified, contracted or archived')
    .argument('<key>', 'flag key')
    .option('--reason <text>', "why, for the migration's log")
    .action(async (key: string, o: { reason?: string }) => {
      await withDatabase(globals(), undefined, 'flag remove', async (ctx) => {
        const change = await removeFlag(ctx.db, ctx.migrations, key, {
          actor: ctx.actor,
          lockWaitMs: ctx.lockWaitMs,
          ...(o.reason ? { reason: o.reason } : {}),
        });
        ctx.out.line(`${pc.magenta('flag')} ${key} removed${change.migrationId ? pc.dim(` (recorded in the log of ${change.migrationId})`) : ''}`);
        ctx.out.result({ flag: key, removed: true, change });
      });
    });

  for (const c of flag.commands) c.exitOverride().showHelpAfterError('(run with --help for usage)');
}
