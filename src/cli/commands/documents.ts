import type { Command } from 'commander';
import { type DocumentKind, renderDocument } from '../../workflow/documents.js';
import type { GlobalOptions } from '../context.js';
import { withMigration } from '../target.js';

interface DocumentCommand {
  name: DocumentKind;
  description: string;
  help: string;
}

const DOCUMENTS: DocumentCommand[] = [
  {
    name: 'plan',
    description: 'the migration plan as Markdown: summary, scope with the live data volume, strategy, timeline, risks, criteria, approvals',
    help: 'The plan comes from the manifest\'s "plan" field; the data volume (row counts, table sizes) of every\ntable the steps touch is measured in the environment\'s database; the timeline adds actual\nstart and end from the event log.\n\nExamples:\n  ferry plan split_full_name > plan.md\n  ferry plan split_full_name --env production\n  ferry plan split_full_name --json',
  },
  {
    name: 'rollback-plan',
    description:
      'the rollback plan as Markdown: quick (flag off), standard (down steps), full (restore), point of no return, decision criteria, last rehearsal',
    help: '\nExamples:\n  ferry rollback-plan split_full_name > rollback.md\n  ferry rollback-plan split_full_name --env production --json',
  },
  {
    name: 'report',
    description: 'the migration report as Markdown: what was migrated, timeline, stages and health, backfill, verification, incidents, success criteria',
    help: 'A success criterion is ticked only when the event log and the recorded results prove it.\n\nExamples:\n  ferry report split_full_name > migration_report.md\n  ferry report split_full_name --env production --json',
  },
  {
    name: 'retro',
    description: "the retrospective: the workflow's five questions with the migration's own numbers (planned vs actual, rollbacks, data errors, incidents)",
    help: '\nWorks for archived migrations too.\n\nExamples:\n  ferry retro split_full_name > retro.md\n  ferry retro split_full_name --json',
  },
];

/** `ferry plan`, `ferry rollback-plan`, `ferry report` and `ferry retro`: documents rendered from the recorded state, on stdout. */
export function registerDocumentCommands(program: Command, globals: () => GlobalOptions): void {
  for (const d of DOCUMENTS) {
    program
      .command(d.name)
      .description(d.description)
      .argument('<id>', 'migration id (archived ones too)')
      .addHelpText(
        'after',
        `\n${d.help.startsWith('\n') ? d.help.slice(1) : d.help}\n\nWith --json: {"migrationId", "document", "markdown"}. Nothing is written to the database.`,
      )
      .action(async (id: string) => {
        await withMigration(globals(), id, d.name, async (ctx, m) => {
          const doc = await renderDocument(ctx.db, m, d.name, { env: ctx.conn.env, migrations: ctx.migrations });
          if (ctx.out.json) ctx.out.result(doc);
          else process.stdout.write(doc.markdown);
        });
      });
  }
}
