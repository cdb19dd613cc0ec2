import { relative } from 'node:path';
import type { Command } from 'commander';
import { findingPlace } from '../../lint/gate.js';
import type { Finding, LintReport } from '../../lint/index.js';
import { durationMs } from '../../project/config.js';
import { isSqlTarget, lintProject, lintRefusal } from '../../workflow/lint.js';
import { checkMigrationArgument, type GlobalOptions } from '../context.js';
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
      if (target !== undefined && !isSqlTarget(target)) checkMigrationArgument(target);
      const lint = await lintProject({
        projectDir: g.project ?? process.cwd(),
        ...(target === undefined ? {} : { target }),
        ...(g.env === undefined ? {} : { env: g.env, ...(g.lockWait === undefined ? {} : { lockWaitMs: durationMs(g.lockWait) }) }),
        onCatalog: (env) =>
          out.line(pc.dim(`catalog of ${env.env} (${env.target}): ${env.catalog.tables.length} tables, ${env.catalog.indexes.length} indexes`)),
      });
      const env = lint.catalog;
      if (lint.results.length === 0) out.line('no migrations yet: `ferry new <name> --type … --strategy …`');
      for (const r of lint.results) print(out, r.report, r.refused, lint.root);
      out.result({
        ok: lint.refused.length === 0,
        refused: lint.refused.length,
        ...(env ? { catalog: { env: env.env, target: env.target, tables: env.catalog.tables.length, indexes: env.catalog.indexes.length } } : {}),
        reports: lint.results.map((r) => ({ ...r.report, refused: r.refused })),
      });
      const refusal = lintRefusal(lint.refused);
      if (refusal) throw refusal;
    });
}
