import { type Command, Option } from 'commander';
import { MIGRATION_TYPES, type MigrationType, STRATEGIES, type Strategy } from '../../migration/manifest.js';
import { loadProject } from '../../project/config.js';
import { initProject, newMigration } from '../../project/scaffold.js';
import type { GlobalOptions } from '../context.js';
import { pc, processOutput } from '../output.js';

/** `ferry init` and `ferry new`: the commands that write project files. */
export function registerProjectCommands(program: Command, globals: () => GlobalOptions): void {
  program
    .command('init')
    .description('make this folder a ferry project: ferry.config.json and migrations/')
    .addHelpText('after', '\nExample:\n  ferry init && ferry new split_full_name --type data-format --strategy incremental')
    .action(() => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const files = initProject(g.project ?? process.cwd());
      for (const f of files) out.line(`${pc.green('wrote')} ${f}`);
      out.line('the "local" environment is an embedded database in .ferry/local; add servers under "environments"');
      out.result({ files });
    });

  program
    .command('new')
    .description('create a migration folder with a manifest and forward / rollback / verify SQL to fill in')
    .argument('<name>', 'short name: lowercase letters, digits, "_" or "-", at most 63 bytes, e.g. split_full_name')
    .addOption(new Option('--type <type>', 'kind of change').choices(MIGRATION_TYPES).makeOptionMandatory())
    .addOption(new Option('--strategy <strategy>', 'how it reaches users').choices(STRATEGIES).makeOptionMandatory())
    .addHelpText('after', '\nExample:\n  ferry new split_full_name --type data-format --strategy incremental')
    .action((name: string, o: { type: MigrationType; strategy: Strategy }) => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const project = loadProject(g.project ?? process.cwd());
      const m = newMigration(project, { name, type: o.type, strategy: o.strategy });
      out.line(`${pc.green('created')} ${m.id}`);
      for (const f of m.files) out.line(`  ${f}`);
      for (const f of m.tickets) out.line(`${pc.green('ticket')} ${f}`);
      out.line(pc.dim(`fill in the SQL files and the plan, then: ferry plan ${m.id}, ferry up --dry-run`));
      out.result(m);
    });
}
