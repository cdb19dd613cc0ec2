import { type CheckFinding, type PrCheckReport, repositoryPath } from './report.js';

/** A workflow command's message, escaped as GitHub's toolkit does (`%`, CR and LF). */
export function escapeData(text: string): string {
  return text.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

/** A workflow command's property value, escaped as GitHub's toolkit does (the data escapes plus `:` and `,`). */
export function escapeProperty(text: string): string {
  return escapeData(text).replace(/:/g, '%3A').replace(/,/g, '%2C');
}

/** One finding as a GitHub workflow command; an acknowledged error is shown as a warning that says so. */
export function annotationLine(report: Pick<PrCheckReport, 'projectPath'>, f: CheckFinding): string {
  const command = f.level === 'error' && !f.acknowledged ? 'error' : 'warning';
  const title = `ferry ${f.rule}${f.acknowledged ? ' (acknowledged)' : ''}`;
  const props = [`file=${escapeProperty(repositoryPath(report, f))}`, `line=${f.line}`, `title=${escapeProperty(title)}`].join(',');
  const message = f.hint ? `${f.message}\nfix: ${f.hint}` : f.message;
  return `::${command} ${props}::${escapeData(message)}`;
}

/**
 * The findings of a check as GitHub Actions annotations (`::error file=…,line=…,title=…::message`),
 * one line each: printed by a step, they mark the lines in the pull request's diff.
 */
export function renderAnnotations(report: Pick<PrCheckReport, 'projectPath' | 'findings'>): string[] {
  return report.findings.map((f) => annotationLine(report, f));
}
