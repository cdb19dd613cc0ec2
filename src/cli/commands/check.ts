import { appendFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { renderAnnotations } from '../../check/annotations.js';
import { renderSarif } from '../../check/sarif.js';
import { checkVerdict, renderSummary } from '../../check/summary.js';
import { FerryError, type FerryErrorCode } from '../../errors.js';
import { type CheckFinding, type PrCheckReport, prCheck, prCheckRefusal } from '../../workflow/pr-check.js';
import { type GlobalOptions, workspaceOptionsOf } from '../context.js';
import { type Output, pc, processOutput } from '../output.js';

const FORMATS = ['text', 'sarif'] as const;

/** The options of `ferry check`, as commander hands them over. */
interface CheckOptions {
  base?: string;
  format?: string;
  output?: string;
}

/** Refuse option combinations before anything is read. */
function checkOptions(o: CheckOptions, json: boolean): { format: (typeof FORMATS)[number]; output?: string } {
  const format = o.format ?? 'text';
  if (!(FORMATS as readonly string[]).includes(format))
    throw new FerryError('E_USAGE', `--format ${JSON.stringify(format)} is not a format of ferry check`, 'use --format text (the default) or --format sarif');
  if (o.base !== undefined && o.base.trim() === '') throw new FerryError('E_USAGE', '--base is empty', 'name a git ref, e.g. --base origin/main');
  if (o.output !== undefined && format !== 'sarif')
    throw new FerryError(
      'E_USAGE',
      '--output writes the SARIF log, but --format is not sarif',
      'add --format sarif, e.g. --format sarif --output results.sarif',
    );
  if (json && format === 'sarif' && o.output === undefined)
    throw new FerryError(
      'E_USAGE',
      '--json and --format sarif would both print a document on stdout',
      'write the SARIF log to a file with --output results.sarif',
    );
  return { format: format as (typeof FORMATS)[number], ...(o.output === undefined ? {} : { output: o.output }) };
}

/** Write a file the command was asked to write; a failure names the file and why. */
function writeOrRefuse(file: string, text: string, how: 'write' | 'append', code: FerryErrorCode, fix: string): void {
  try {
    if (how === 'append') appendFileSync(file, text);
    else writeFileSync(file, text);
  } catch (err) {
    throw new FerryError(code, `cannot ${how} ${file}: ${(err as Error).message}`, fix);
  }
}

const MARK = { error: pc.red('✘ error'), warning: pc.yellow('▲ warning') } as const;

function findingLines(f: CheckFinding): string[] {
  const head = f.acknowledged ? pc.dim('– error [acknowledged]') : MARK[f.level];
  return [`  ${head} ${pc.bold(f.rule)} ${pc.cyan(`${f.file}:${f.line}`)}  ${f.message}`, ...(f.hint ? [`      ${pc.green('fix:')} ${f.hint}`] : [])];
}

function printText(out: Output, report: PrCheckReport): void {
  out.line(`${pc.bold('base')} ${report.base} ${pc.dim(`(merge base ${report.mergeBase.slice(0, 12)})`)}`);
  if (report.database) out.line(pc.dim(`scratch database ${report.database.env} (${report.database.target})`));
  out.line(report.changed.length ? `changed: ${report.changed.join(', ')}` : 'no migration is new or changed');
  for (const r of report.rehearsals) out.line(`  ${r.ok ? pc.green('✔') : pc.red('✘')} rehearsal ${r.migrationId}: ${r.summary}`);
  for (const n of report.notRehearsed) out.line(pc.yellow(`  ○ not rehearsed ${n.migrationId}: ${n.reason}`));
  if (report.applied.length) out.line(pc.dim(`applied to the scratch database: ${report.applied.join(', ')}`));
  for (const l of report.findings.flatMap(findingLines)) out.line(l);
  out.line(report.ok ? pc.green(checkVerdict(report)) : pc.red(checkVerdict(report)));
}

/** `ferry check`: the pull request's migrations — changed against the base branch — linted, loaded and rehearsed, for CI. */
export function registerCheckCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('check')
    .description(
      'for pull requests: lint the migrations new or changed against the base branch, check every manifest, and with --env rehearse the pending ones on that (scratch) database',
    )
    .option('--base <ref>', 'git ref to compare with (default: origin/$GITHUB_BASE_REF when set, else origin/main, else main)')
    .option('--format <format>', 'text (default) or sarif (a SARIF 2.1.0 log for code scanning)')
    .option('--output <file>', 'with --format sarif: write the SARIF log to this file (the text report still prints)')
    .addHelpText(
      'after',
      `
The changed migrations are the folders under migrations/ with a file changed
since the branch left the base (git merge-base), or untracked. Every manifest
is loaded; each problem is a finding. Without --env nothing connects; with
--env NAME (the CI job's scratch database, e.g. a postgres service container)
the changed migrations are linted against its catalog and each one still
pending there is rehearsed on a copy (up → verify → down → up).

With GITHUB_ACTIONS=true it also prints one annotation per finding
(::error file=…,line=…::…; on stderr when stdout carries --json or SARIF) and
appends a Markdown summary to the file named by $GITHUB_STEP_SUMMARY.

Exit codes: 0 passed, 2 bad option or base ref, 4 a manifest is invalid,
13 a rehearsal failed, 15 error lint findings not acknowledged.

Examples:
  ferry check
  ferry check --base origin/develop
  ferry check --env ci --format sarif --output results.sarif
  ferry check --env ci --json`,
    )
    .action(async (o: CheckOptions) => {
      const g = globals();
      const json = Boolean(g.json);
      const { format, output } = checkOptions(o, json);
      const sarifOnStdout = format === 'sarif' && output === undefined;
      const out = processOutput(json);
      const { root, ...workspace } = workspaceOptionsOf(g);
      const report = await prCheck({ projectDir: root ?? process.cwd(), ...workspace, ...(o.base === undefined ? {} : { base: o.base }) });
      if (format === 'sarif') {
        const log = `${JSON.stringify(renderSarif(report, { version: program.version() ?? '0.0.0' }), null, 2)}\n`;
        if (output === undefined) process.stdout.write(log);
        else writeOrRefuse(output, log, 'write', 'E_USAGE', 'give --output a path in a folder that exists and you can write to');
      }
      if (process.env.GITHUB_ACTIONS === 'true') {
        const lines = renderAnnotations(report).map((l) => `${l}\n`);
        // Workflow commands are read from stdout and stderr alike: keep stdout a clean document when it carries one.
        for (const l of lines) (json || sarifOnStdout ? process.stderr : process.stdout).write(l);
        const summary = process.env.GITHUB_STEP_SUMMARY;
        if (summary) writeOrRefuse(summary, renderSummary(report), 'append', 'E_CONFIG', 'GITHUB_STEP_SUMMARY must name a file the job can write');
      }
      if (!sarifOnStdout) printText(out, report);
      out.result(report);
      const refusal = prCheckRefusal(report);
      if (refusal) throw refusal;
    });
}
