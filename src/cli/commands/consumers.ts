import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { apiConsumers, type ConsumerUse } from '../../workflow/consumers.js';
import { upgradeGuide } from '../../workflow/upgrade-guide.js';
import type { GlobalOptions } from '../context.js';
import { pc } from '../output.js';
import { withMigration } from '../target.js';

const at = (d: Date) => `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;

function consumerLine(c: ConsumerUse): string {
  const seen = `${c.calls} call(s), first ${at(c.firstSeen)}, last ${at(c.lastSeen)}`;
  const state = c.old ? `  ${c.state === 'disabled' ? pc.red(c.state) : c.state === 'active' ? c.state : pc.yellow(c.state)}` : pc.dim('  current');
  const recent = c.old && c.recent ? pc.yellow('  (within the cleanup window)') : '';
  const t = c.timeline;
  const plan = !t
    ? ''
    : t.respond && t.disable
      ? pc.dim(`  headers from ${at(t.respond)}, disabled ${at(t.disable)}`)
      : pc.dim('  its timeline starts when the flag first reaches 100 %');
  return `  ${pc.bold(c.consumer)} ${c.version}: ${seen}${state}${recent}${plan}`;
}

/** `ferry consumers <id>` and `ferry upgrade-guide <id>`: the API consumers of a migration, and the guide they need. */
export function registerConsumerCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('consumers')
    .description("who still calls the old versions of a migration's API (its manifest's api section), and when they were last seen")
    .argument('<id>', 'migration id')
    .option('--all', 'the current version too')
    .addHelpText(
      'after',
      "\nCalls are counted per API version and consumer by the applications' compat middleware (ferry/compat) into\nferry.api_consumers. Each old version's timeline (announce, log warnings, response headers, disabled) counts\nfrom the day the migration's flag first reached 100 %, with the consumer's allow-list entry applied.\n`ferry cleanup` is refused while an old version had a call within api.consumerWindow (default 7d).\nNothing is written to the database.\n\nExamples:\n  ferry consumers split_full_name\n  ferry consumers split_full_name --all --json",
    )
    .action(async (id: string, o: { all?: boolean }) => {
      await withMigration(globals(), id, 'consumers', async (ctx, m) => {
        const r = await apiConsumers(ctx.db, m, { all: Boolean(o.all) });
        ctx.out.line(
          `${pc.bold(r.migrationId)}  API ${r.api}: old ${r.oldVersions.join(', ')}, current ${r.current}; released ${r.releasedAt ? at(r.releasedAt) : 'not yet (the flag has not reached 100 %)'}`,
        );
        if (r.consumers.length === 0) ctx.out.line(`  no calls to ${o.all ? 'any version' : 'an old version'} recorded`);
        for (const c of r.consumers) ctx.out.line(consumerLine(c));
        ctx.out.result(r);
      });
    });

  program
    .command('upgrade-guide')
    .description("a consumer-facing Markdown upgrade guide of a migration's API: field mapping, dates, headers, the 410, examples for both versions")
    .argument('<id>', 'migration id (archived ones too)')
    .option('--output <file>', 'write it to this file instead of printing it')
    .addHelpText(
      'after',
      '\nRendered from the manifest\'s api section: mapping, versions and timeline. The dates are resolved from the\nday the migration\'s flag first reached 100 % (as offsets like T+30 d before that). With api.module, example\nrequests and responses are written for the newest version and converted to the old ones by the module\'s\nadapters. Nothing is written to the database.\n\nWith --json: {"migrationId", "api", "releasedAt", "module", "examples", "markdown"}.\n\nExamples:\n  ferry upgrade-guide split_full_name > UPGRADING.md\n  ferry upgrade-guide split_full_name --output docs/upgrade-v2.md',
    )
    .action(async (id: string, o: { output?: string }) => {
      await withMigration(globals(), id, 'upgrade-guide', async (ctx, m) => {
        const guide = await upgradeGuide(ctx.db, m);
        if (o.output !== undefined) {
          const file = resolve(process.cwd(), o.output);
          writeFileSync(file, guide.markdown);
          ctx.out.line(`${pc.green('wrote')} ${file} ${pc.dim(`(upgrade guide of ${guide.api})`)}`);
          ctx.out.result({ ...guide, file });
        } else if (ctx.out.json) ctx.out.result(guide);
        else process.stdout.write(guide.markdown);
      });
    });
}
