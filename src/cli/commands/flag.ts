import type { Command } from 'commander';
import type { Database } from '../../db/database.js';
import { FerryError } from '../../errors.js';
import type { Migration } from '../../migration/loader.js';
import { ensureState, stateExists } from '../../migration/state.js';
import { STATE_SCHEMA_VERSIONS } from '../../migration/state-schema.js';
import {
  bucketOf,
  deleteFlag,
  effectivePercentage,
  type Flag,
  formatPercentage,
  inRollout,
  listFlags,
  parseFlagValue,
  readFlag,
  unknownFlag,
  writeFlag,
} from '../../rollout/index.js';
import { MIGRATION_LOCK_KEY } from '../../workflow/execute.js';
import { transition } from '../../workflow/lifecycle.js';
import { type GlobalOptions, withDatabase } from '../context.js';
import { pc } from '../output.js';

/** Phases in which a migration no longer needs its flag. */
const COMPLETE = new Set(['verified', 'contracted', 'archived']);

/** Create or upgrade ferry's state, taking the migration lock only when there is something to do (the kill switch must not wait behind a backfill). */
export async function ensureStateCurrent(db: Database, lockWaitMs: number): Promise<void> {
  if (await stateExists(db)) {
    const { rows } = await db.query<{ v: number | null }>('SELECT max(version) AS v FROM ferry.state_version');
    if ((rows[0]?.v ?? 0) >= STATE_SCHEMA_VERSIONS.length) return;
  }
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, lockWaitMs, () => ensureState(db));
}

const owners = (migrations: Migration[], key: string) => migrations.filter((m) => m.manifest.flag === key);
const known = (migrations: Migration[], stored: Flag[]) =>
  [...new Set([...stored.map((f) => f.key), ...migrations.flatMap((m) => m.manifest.flag ?? [])])].sort();
const show = (f: { enabled: boolean; percentage: number }) => (f.enabled ? formatPercentage(f.percentage) : 'off');

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
    .description('set a flag: true (everyone), false (nobody: the quick rollback) or a percentage of units')
    .argument('<key>', 'flag key (the "flag" of a migration\'s manifest)')
    .argument('<value>', 'true, false, or a percentage like 5, 12.5, 0.01 or 5%')
    .option('--reason <text>', "why, for the migration's log")
    .addHelpText(
      'after',
      '\nExamples:\n  ferry flag set users.split-name 5\n  ferry flag set users.split-name false --reason "error rate up"   # quick rollback',
    )
    .action(async (key: string, text: string, o: { reason?: string }) => {
      const value = parseFlagValue(text);
      await withDatabase(globals(), undefined, 'flag set', async (ctx) => {
        const stored = await readFlag(ctx.db, key);
        const owner = owners(ctx.migrations, key).at(-1);
        if (!stored && !owner) throw unknownFlag(key, known(ctx.migrations, await listFlags(ctx.db)));
        await ensureStateCurrent(ctx.db, ctx.lockWaitMs);
        const change = await ctx.db.transaction(async (tx) => {
          const reason = o.reason ?? (value.enabled ? undefined : `quick rollback: flag ${key} switched off, everyone back on the old path`);
          const c = await writeFlag(tx, key, value, { migrationId: owner?.id ?? null, actor: ctx.actor, ...(reason ? { reason } : {}) });
          // A switched-off rollout is halted: pause it so `rollout advance` cannot carry on regardless.
          if (c.quickRollback && c.migrationId) {
            const { rows } = await tx.query<{ phase: string }>('SELECT phase FROM ferry.migrations WHERE id = $1 FOR UPDATE', [c.migrationId]);
            const phase = rows[0]?.phase;
            if (phase === 'canary' || phase === 'rolling')
              await transition(tx, c.migrationId, 'paused', { actor: ctx.actor, reason: reason ?? 'quick rollback' });
          }
          return c;
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
        const flags = await listFlags(ctx.db);
        for (const f of flags)
          ctx.out.line(`${f.key.padEnd(32)} ${show(f).padStart(9)}  ${pc.dim(`${f.migrationId ?? '-'}  v${f.version} by ${f.updatedBy}`)}`);
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
        const f = await readFlag(ctx.db, key);
        if (!f && owners(ctx.migrations, key).length === 0) throw unknownFlag(key, known(ctx.migrations, await listFlags(ctx.db)));
        const value = f ?? { enabled: false, percentage: 0 };
        const result: Record<string, unknown> = { flag: key, stored: f !== undefined, enabled: value.enabled, percentage: value.percentage };
        ctx.out.line(`${pc.bold(key)}: ${show(value)}${f ? pc.dim(`  (${f.migrationId ?? 'no migration'}, v${f.version})`) : pc.dim('  (not set yet)')}`);
        if (o.unit !== undefined) {
          const bucket = bucketOf(key, o.unit);
          const isIn = inRollout(bucket, effectivePercentage(value));
          Object.assign(result, { unit: o.unit, bucket, in: isIn });
          ctx.out.line(`unit ${o.unit}: bucket ${bucket} of 10000 → ${isIn ? pc.green('in (new path)') : pc.yellow('out (old path)')}`);
        }
        ctx.out.result(result);
      });
    });

  flag
    .command('remove')
    .addHelpText(
      'after',
      '\nRefused while a migration that names the flag is not verified, contracted or archived.\n\nExample:\n  ferry flag remove split-full-name',
    )
    .description('delete a flag; refused while a migration that names it is not verified, contracted or archived')
    .argument('<key>', 'flag key')
    .option('--reason <text>', "why, for the migration's log")
    .action(async (key: string, o: { reason?: string }) => {
      await withDatabase(globals(), undefined, 'flag remove', async (ctx) => {
        const f = await readFlag(ctx.db, key);
        if (!f) throw unknownFlag(key, known(ctx.migrations, await listFlags(ctx.db)));
        const change = await ctx.db.transaction(async (tx) => {
          const needs: string[] = [];
          for (const m of owners(ctx.migrations, key)) {
            const { rows } = await tx.query<{ phase: string }>('SELECT phase FROM ferry.migrations WHERE id = $1 FOR SHARE', [m.id]);
            const phase = rows[0]?.phase ?? 'planned';
            if (!COMPLETE.has(phase)) needs.push(`${m.id} (${phase})`);
          }
          if (needs.length)
            throw new FerryError(
              'E_GATE',
              `cannot remove flag ${key}: ${needs.length === 1 ? 'migration' : 'migrations'} ${needs.join(', ')} still ${needs.length === 1 ? 'needs' : 'need'} it`,
              `a flag can go once every migration naming it is verified, contracted or archived; to turn it off now use \`ferry flag set ${key} false\``,
            );
          return deleteFlag(tx, key, { actor: ctx.actor, ...(o.reason ? { reason: o.reason } : {}) });
        });
        ctx.out.line(`${pc.magenta('flag')} ${key} removed${change.migrationId ? pc.dim(` (recorded in the log of ${change.migrationId})`) : ''}`);
        ctx.out.result({ flag: key, removed: true, change });
      });
    });

  for (const c of flag.commands) c.exitOverride().showHelpAfterError('(run with --help for usage)');
}
