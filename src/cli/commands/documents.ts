import type { Command } from 'commander';
import { renderPlan } from '../../docs/plan.js';
import { renderReport } from '../../docs/report.js';
import { renderRetro } from '../../docs/retro.js';
import { renderRollbackPlan } from '../../docs/rollback-plan.js';
import type { DocState } from '../../docs/state.js';
import { loadDocState } from '../../workflow/doc-state.js';
import type { GlobalOptions } from '../context.js';
import { withMigration } from '../target.js';

interface DocumentCommand {
  name: string;
  description: string;
  render: (s: DocState) => string;
  /** Whether the document shows the live data volume (row counts and sizes). */
  measure: boolean;
  /** Whether it shows the rows `down` would lose (values the old shape cannot regenerate). */
  countLoss?: boolean;
  help: string;
}

const DOCUMENTS: DocumentCommand[] = [
  {
    name: 'plan',
    description: 'the migration plan as Markdown: summary, scope with the live data volume, strategy, timeline, risks, criteria, approvals',
    render: renderPlan,
    measure: true,
    help: 'The plan comes from the manifest\'s "plan" field; the data volume (row counts, table sizes) of every\ntable the steps touch is measured in the environment\'s database; the timeline adds actual\nstart and end from the event log.\n\nExamples:\n  ferry plan split_full_name > plan.md\n  ferry plan split_full_name --env production\n  ferry plan split_full_name --json',
  },
  {
    name: 'rollback-plan',
    description:
      'the rollback plan as Markdown: quick (flag off), standard (down steps), full (restore), point of no return, decision criteria, last rehearsal',
    render: renderRollbackPlan,
    measure: false,
    countLoss: true,
    help: '\nExamples:\n  ferry rollback-plan split_full_name > rollback.md\n  ferry rollback-plan split_full_name --env production --json',
  },
  {
    name: 'report',
    description: 'the migration report as Markdown: what was migrated, timeline, stages and health, backfill, verification, incidents, success criteria',
    render: renderReport,
    measure: false,
    help: 'A success criterion is ticked only when the event log and the recorded results prove it.\n\nExamples:\n  ferry report split_full_name > migration_report.md\n  ferry report split_full_name --env production --json',
  },
  {
    name: 'retro',
    description: "the retrospective: the workflow's five questions with the migration's own numbers (planned vs actual, rollbacks, data errors, incidents)",
    render: renderRetro,
    measure: false,
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
          const state = await loadDocState(ctx.db, m, { env: ctx.conn.env, measure: d.measure, countLoss: Boolean(d.countLoss), migrations: ctx.migrations });
          const markdown = d.render(state);
          if (ctx.out.json) ctx.out.result({ migrationId: m.id, document: d.name, markdown });
          else process.stdout.write(markdown);
        });
      });
  }
}
