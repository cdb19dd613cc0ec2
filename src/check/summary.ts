import { type CheckFinding, failingFindings, type PrCheckReport } from './report.js';

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** A table cell: pipes escaped, line breaks as `<br>`. */
function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, '<br>');
}

/** Inline code that survives backticks in the text. */
function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  return `${fence}${fence === '``' ? ` ${text} ` : text}${fence}`;
}

/** The one-line verdict of a check: passed or failed, and how much it looked at. */
export function checkVerdict(report: PrCheckReport): string {
  const failing = failingFindings(report);
  const warnings = report.findings.filter((f) => f.level === 'warning' || f.acknowledged).length;
  const scope = `${plural(report.changed.length, 'migration')} new or changed against ${report.base}`;
  const how = report.database
    ? `linted against ${report.database.env}, ${plural(report.rehearsals.length, 'rehearsal')} run there`
    : 'linted without a database';
  if (report.ok) return `✅ ferry check passed: ${scope}, ${how}; no error findings${warnings ? ` (${plural(warnings, 'warning')})` : ''}.`;
  return `❌ ferry check failed: ${plural(failing.length, 'error finding')} not acknowledged; ${scope}, ${how}.`;
}

function findingRow(f: CheckFinding): string {
  const level = f.level === 'error' ? (f.acknowledged ? 'error (acknowledged)' : '**error**') : 'warning';
  const hint = f.hint ? `<br>fix: ${cell(f.hint)}` : '';
  return `| ${level} | ${code(f.rule)} | ${code(`${f.file}:${f.line}`)} | ${cell(f.message)}${hint} |`;
}

/**
 * The Markdown of a check for `$GITHUB_STEP_SUMMARY`: the verdict, then per migration (the changed
 * ones, and any other with a finding) a table of its findings.
 */
export function renderSummary(report: PrCheckReport): string {
  const lines = ['## ferry check', '', checkVerdict(report), ''];
  const groups = new Map<string, CheckFinding[]>(report.changed.map((id) => [id, []]));
  for (const f of report.findings) {
    const key = f.migrationId ?? '';
    groups.set(key, [...(groups.get(key) ?? []), f]);
  }
  if (groups.size === 0) lines.push('No migration is new or changed.', '');
  for (const [id, findings] of groups) {
    const rehearsal = report.rehearsals.find((r) => r.migrationId === id);
    lines.push(`### ${id === '' ? 'Migrations folder' : code(id)}`, '');
    if (rehearsal) lines.push(`Rehearsal: ${rehearsal.ok ? '✅' : '❌'} ${cell(rehearsal.summary)}`, '');
    const skipped = report.notRehearsed.find((r) => r.migrationId === id);
    if (skipped) lines.push(`Not rehearsed: ${cell(skipped.reason)}`, '');
    if (findings.length === 0) {
      lines.push('No findings.', '');
      continue;
    }
    lines.push('| level | rule | where | finding |', '|---|---|---|---|', ...findings.map(findingRow), '');
  }
  return `${lines.join('\n')}\n`.replace(/\n\n+$/, '\n');
}
