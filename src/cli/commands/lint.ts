import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { FerryError } from '../../errors.js';
import { findingPlace } from '../../lint/gate.js';
import { type Finding, type LintCatalog, type LintReport, lintMigration, lintSql, readLintCatalog, refusedFindings, SqlSyntaxError } from '../../lint/index.js';
import { loadAll, type Migration } from '../../migration/loader.js';
import { durationMs, loadProject, resolveConnection } from '../../project/config.js';
import { entryExists, readTextFile, UnreadableFile } from '../../project/text-file.js';
import { selectMigrations } from '../../workflow/plan-state.js';
import { checkMigrationArgument, type GlobalOptions, openFor, projectLoadOptions } from '../context.js';
import { type Output, pc, processOutput } from '../output.js';

const MARK = { error: pc.red('✘ error'), warning: pc.yellow('▲ warning'), info: pc.cyan('ℹ info') } as const;

function findingLines(f: Finding, where: string): string[] {
  const status = f.status === 'active' ? '' : pc.dim(` [${f.status}${f.note ? `: ${f.note}` : ''}]`);
  const head = f.status === 'disabled' ? pc.dim(`– ${f.severity}`) : MARK[f.severity];
  return [`  ${head} ${pc.bold(f.rule)} ${where}  ${f.message}${status}`, pc.dim(`      why: ${f.why}`), `      ${pc.green('fix:')} ${f.fix}`];
}

function print(out: Output, report: LintReport, refused: Finding[], root: string): void {
  const c = report.classification;
  const declared = c.declared ? `declared ${c.declared}, ` : '';
  const risk = { low: pc.green, medium: pc.yellow, high: pc.red, critical: (s: string) => pc.bold(pc.red(s)) }[c.risk](`risk ${c.risk}`);
  out.line(`${pc.bold(report.target)}  ${declared}inferred ${c.inferred}, ${risk}`);
  for (const r of c.reasons) out.line(pc.dim(`  · ${r}`));
  for (const s of report.statements) {
    const strong = s.locks.filter((l) => ['ShareLock', 'ShareRowExclusiveLock', 'ExclusiveLock', 'AccessExclusiveLock'].includes(l.mode));
    if (s.findings.length === 0 && strong.length === 0 && s.rewrites.length === 0) continue;
    const file = s.file ? relative(root, s.file) || s.file : report.target;
    out.line(`  ${pc.cyan(`${file}:${s.line}`)}  ${s.text.replace(/^(\s*--[^\n]*\n)+/, '').split('\n')[0]}`);
    for (const l of s.locks) out.line(pc.dim(`      lock    ${l.mode} on ${l.relation} (${l.blocks}) — ${l.why}`));
    for (const r of s.rewrites) out.line(`      ${pc.red('rewrite')} ${r.relation}: ${r.reason}`);
    for (const f of s.findings) out.line(...[findingLines(f, '').join('\n')]);
  }
  for (const f of report.findings.filter((x) => x.rule === 'type-mismatch')) out.line(findingLines(f, findingPlace(f)).join('\n'));
  const n = report.counts;
  out.line(
    `  ${n.error} error${n.error === 1 ? '' : 's'} (${refused.length} refused), ${n.warning} warning${n.warning === 1 ? '' : 's'}, ${n.disabled} disabled`,
  );
  out.line();
}

/** The live catalog of an environment, read once and closed again; what `--env` gives the linter. */
interface EnvironmentCatalog {
  env: string;
  target: string;
  catalog: LintCatalog;
}

async function readEnvironmentCatalog(g: GlobalOptions, env: string): Promise<EnvironmentCatalog> {
  const project = loadProject(g.project ?? process.cwd());
  const conn = resolveConnection(project, env);
  const lockWaitMs = durationMs(g.lockWait ?? project.config.lockWait);
  const db = await openFor({ conn, lockWaitMs }, 'lint');
  try {
    return { env: conn.env, target: db.target, catalog: await readLintCatalog(db) };
  } finally {
    await db.close();
  }
}

async function lintFile(path: string, catalog: LintCatalog | undefined): Promise<LintReport> {
  const file = resolve(path);
  if (!entryExists(file)) throw new FerryError('E_NOT_FOUND', `no file ${path}`, 'pass a .sql file, a migration id, or nothing for every migration');
  try {
    return await lintSql(readTextFile(file), { file, ...(catalog ? { catalog } : {}) });
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw new FerryError('E_LINT', `${path}:${err.line}: ${err.message}`, 'fix the SQL syntax');
    if (err instanceof UnreadableFile) throw new FerryError('E_MANIFEST', err.message, 'make it a readable UTF-8 file (check its permissions and owner)');
    throw err;
  }
}

function isSqlFile(target: string): boolean {
  return target.endsWith('.sql') || (existsSync(target) && statSync(target).isFile());
}

/** `ferry lint [file|id]`: the linter, without a database unless `--env` names one whose catalog it reads. */
export function registerLintCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('lint')
    .description(
      'check SQL for dangerous statements (locks, rewrites, blocking index builds …) and the migration type and risk; needs no database, or reads the catalog of --env',
    )
    .argument('[target]', 'a .sql file, a migration id, or nothing for every migration of the project')
    .addHelpText(
      'after',
      `
Without --env the linter needs no database and treats every table it did not
see created as large. With --env it reads that environment's catalog once
(read-only): type changes PostgreSQL makes without a rewrite (varchar(n) → text,
numeric precision widening …) are not flagged, findings name the table's
measured size, and indexes are matched as they exist.

Disable a rule for one statement with a comment in or just before it:
  -- ferry-lint-disable index-not-concurrent -- the table holds 20 rows
or for a migration with "lint": { "disable": ["rule"] } in its manifest. Error
findings refuse \`ferry up\` unless acknowledged: "lint": { "acknowledge": ["step:rule"] }.

Exit codes: 0 no error finding refused, 15 error findings not acknowledged.

Examples:
  ferry lint
  ferry lint 20261127093000_split_full_name
  ferry lint --env production
  ferry lint scripts/hotfix.sql --json`,
    )
    .action(async (target: string | undefined) => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const results: { report: LintReport; refused: Finding[] }[] = [];
      let root = process.cwd();
      const sqlFile = target !== undefined && isSqlFile(target);
      const selected: Migration[] = [];
      if (!sqlFile) {
        checkMigrationArgument(target);
        const project = loadProject(g.project ?? process.cwd());
        root = project.root;
        selected.push(...selectMigrations(await loadAll(project.migrationsDir, projectLoadOptions(project)), target));
      }
      const env = g.env === undefined ? undefined : await readEnvironmentCatalog(g, g.env);
      const catalog = env?.catalog;
      if (env) {
        out.line(pc.dim(`catalog of ${env.env} (${env.target}): ${catalog?.tables.length ?? 0} tables, ${catalog?.indexes.length ?? 0} indexes`));
      }
      if (sqlFile) {
        const report = await lintFile(target, catalog);
        results.push({ report, refused: refusedFindings(report) });
      } else {
        for (const m of selected) {
          const report = lintMigration(m, catalog ? { catalog } : {});
          results.push({ report, refused: refusedFindings(report, m.manifest) });
        }
        if (selected.length === 0) out.line('no migrations yet: `ferry new <name> --type … --strategy …`');
      }
      for (const r of results) print(out, r.report, r.refused, root);
      const refused = results.flatMap((r) => r.refused);
      out.result({
        ok: refused.length === 0,
        refused: refused.length,
        ...(env ? { catalog: { env: env.env, target: env.target, tables: env.catalog.tables.length, indexes: env.catalog.indexes.length } } : {}),
        reports: results.map((r) => ({ ...r.report, refused: r.refused })),
      });
      if (refused.length > 0) {
        throw new FerryError(
          'E_LINT',
          `${refused.length} error-level finding${refused.length === 1 ? '' : 's'} not acknowledged: ${[...new Set(refused.map((f) => f.rule))].join(', ')}`,
          'fix the SQL as each finding suggests; or disable a rule for one statement with `-- ferry-lint-disable <rule> -- <reason>`, or acknowledge it in the manifest ("lint": { "acknowledge": ["step:rule"] })',
        );
      }
    });
}
