import { type Command, Option } from 'commander';
import { FerryError } from '../../errors.js';
import { IMPORT_TOOLS, type ImportTool } from '../../import/types.js';
import { type ImportReport, importMigrations } from '../../workflow/import.js';
import { loadWorkspace, openWorkspace } from '../../workflow/workspace.js';
import { type GlobalOptions, workspaceOptionsOf } from '../context.js';
import { type Output, pc, processOutput } from '../output.js';

function render(out: Output, r: ImportReport): void {
  for (const m of r.migrations) {
    const mark = m.folder === 'written' ? pc.green('+') : m.folder === 'unchanged' ? pc.dim('=') : pc.yellow('-');
    const what = [
      m.folder === 'written' ? (r.dryRun ? 'would write' : 'written') : m.folder,
      `${m.steps} step${m.steps === 1 ? '' : 's'}`,
      m.opaque ? `opaque: ferry cannot run it (${m.opaque})` : m.irreversible ? 'irreversible (no rollback from the tool)' : '',
      r.table
        ? m.applied
          ? m.recorded
            ? 'applied by the tool: recorded as applied'
            : 'applied by the tool'
          : 'not applied by the tool: `ferry up` runs it'
        : '',
    ].filter(Boolean);
    out.line(`${mark} ${pc.bold(m.id)}  ${pc.dim(m.files.join(', '))}  ${what.join('; ')}`);
  }
  for (const p of r.problems) out.line(`${pc.yellow('!')} ${p.message}`);
  if (r.migrations.length === 0) out.line(`no ${r.tool} migrations in ${r.dir}`);
  if (r.dryRun) out.line(pc.cyan('dry-run: nothing was written or recorded'));
  out.result(r);
}

/** `ferry import`: adopt another tool's migrations and, with --env, its history. */
export function registerImportCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('import')
    .description("write ferry migrations from another tool's migrations; with --env, record the ones it applied there as applied")
    .addOption(new Option('--from <tool>', 'the tool the migrations come from').choices(IMPORT_TOOLS).makeOptionMandatory())
    .option('--dir <path>', "the tool's migrations folder (default: the tool's own, e.g. db/migrations for dbmate)")
    .option('--dry-run', 'list what would be written and recorded; change nothing')
    .option('--force', 'import what can be imported even when some migrations cannot be imported faithfully')
    .addHelpText(
      'after',
      "\nEach migration becomes one ferry migration: its forward SQL as the tool runs it, its rollback\nwhere the tool has one (else the step is irreversible), and verify SQL that checks the objects it\ncreates. A node-pg-migrate or Knex migration becomes a step that runs the original module's up and\ndown in ferry's transaction, with the project's own node-pg-migrate or knex; one whose module\ncannot be loaded is imported as an opaque, irreversible step, and the import says so.\n\nWith --env, the tool's history table in that environment is read (never written) and\nevery migration it applied is recorded as applied in ferry, without running anything; then\n`ferry up` applies only what neither tool applied. A migration the tool recorded whose file is\ngone, a file edited since it was applied, or a dirty or failed run is listed, and nothing is\nwritten (exit 8) unless --force.\n\nExamples:\n  ferry import --from dbmate --dry-run\n  ferry import --from golang-migrate --dir db/migrations --env production\n  ferry import --from prisma --env staging --json\n  ferry import --from knex --dir db/knex-migrations --env production",
    )
    .action(async (o: { from: ImportTool; dir?: string; dryRun?: boolean; force?: boolean }) => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const ws = await loadWorkspace(workspaceOptionsOf(g));
      const db = g.env === undefined ? undefined : await openWorkspace(ws, 'import');
      try {
        const report = await importMigrations(ws.project, db, {
          tool: o.from,
          ...(o.dir === undefined ? {} : { dir: o.dir }),
          dryRun: Boolean(o.dryRun),
          force: Boolean(o.force),
          run: ws.run,
          lockWaitMs: ws.lockWaitMs,
        });
        render(out, report);
      } catch (err) {
        const report = err instanceof FerryError ? (err.details as { report?: ImportReport } | undefined)?.report : undefined;
        // In --json mode the report is the document scripts read (with the problems); the exit code says it was refused.
        if (report && out.json) out.result(report);
        throw err;
      } finally {
        await db?.close();
      }
    });
}
