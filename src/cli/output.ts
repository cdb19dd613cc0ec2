import pc from 'picocolors';
import type { FerryError } from '../errors.js';
import type { ProgressEvent, StepReport } from '../workflow/execute.js';
import { backfillDisplay } from './progress.js';

/** Where a command writes: human text, or one JSON document for scripts. */
export interface Output {
  json: boolean;
  /** A human line (suppressed in --json mode). */
  line(text?: string): void;
  /** The command's result: printed as JSON in --json mode, else ignored. */
  result(value: unknown): void;
  error(err: FerryError, debug: boolean): void;
}

/** Whether a command already printed its JSON result; an error after it must not print a second document. */
let resultPrinted = false;

/** A new command begins: nothing printed yet (a program may run several in one process). */
export function startOutput(): void {
  resultPrinted = false;
}

/** Output to the process's stdout/stderr. picocolors honours NO_COLOR and non-TTY output. */
export function processOutput(json: boolean): Output {
  return {
    json,
    line(text = '') {
      if (!json) process.stdout.write(`${text}\n`);
    },
    result(value) {
      if (json) process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
      resultPrinted = true;
    },
    error(err, debug) {
      if (json && resultPrinted) {
        // The result already printed says what is wrong (drift, failed checks); the exit code tells the rest.
      } else if (json) {
        process.stdout.write(`${JSON.stringify({ error: { code: err.code, message: err.message, hint: err.hint ?? null } }, null, 2)}\n`);
      } else {
        process.stderr.write(`${pc.red('error')} ${pc.dim(`[${err.code}]`)} ${err.message}\n`);
        if (err.hint) process.stderr.write(`${pc.yellow('fix')}   ${err.hint}\n`);
      }
      if (debug && err.stack) process.stderr.write(`${pc.dim(err.stack)}\n`);
    },
  };
}

const ms = (n: number) => (n < 1000 ? `${Math.round(n)}ms` : `${(n / 1000).toFixed(1)}s`);

/** One step's line (and, for dry-runs, its SQL, changes and locks). */
export function describeStep(r: StepReport): string[] {
  const mark = {
    applied: pc.green('✔'),
    'rolled-back': pc.yellow('↩'),
    baseline: pc.cyan('≡'),
    'dry-run': pc.cyan('◌'),
    'skipped-in-dry-run': pc.dim('○'),
    recovered: pc.green('✔'),
  }[r.status];
  const what = `${r.migrationId}/${pc.bold(r.stepId)}`;
  const extra = [
    r.retries ? `${r.retries} retr${r.retries === 1 ? 'y' : 'ies'}` : '',
    r.statements.length ? `${r.statements.length} statement${r.statements.length === 1 ? '' : 's'}` : '',
  ]
    .filter(Boolean)
    .join(', ');
  const lines = [`${mark} ${what}  ${r.status} in ${ms(r.durationMs)}${extra ? pc.dim(` (${extra})`) : ''}`];
  if (r.note) lines.push(pc.dim(`    ${r.note}`));
  if (r.status === 'dry-run' || r.status === 'skipped-in-dry-run') {
    for (const s of r.statements) {
      const rows = s.affectedRows !== undefined ? pc.dim(`  -- ${s.affectedRows} row(s)`) : '';
      lines.push(`    ${pc.cyan(s.sql.split('\n').join('\n    '))};${rows}`);
    }
    for (const c of r.changes ?? []) lines.push(`    change  ${c}`);
    for (const l of r.locks ?? []) lines.push(`    lock    ${l.mode} on ${l.relation} ${pc.dim(`(${l.blocks})`)}`);
  }
  return lines;
}

/** Live progress lines for human output; backfills get a progress bar on a TTY. */
export function progressPrinter(out: Output): (e: ProgressEvent) => void {
  const backfill = backfillDisplay((l) => out.line(l), Boolean(process.stdout.isTTY));
  return (e) => {
    if (e.type === 'backfill') return backfill.update(e.progress);
    if (e.type === 'step') {
      backfill.stop();
      for (const l of describeStep(e.report)) out.line(l);
    } else if (e.type === 'retry') out.line(pc.yellow(`  ⟳ ${e.migrationId}/${e.stepId}: ${e.reason}; retry ${e.attempt} in ${ms(e.waitMs)}`));
    else out.line(pc.dim(`  ${e.migrationId}/${e.stepId}: ${e.message}`));
  };
}

/** Colour a lifecycle phase. */
export function phaseLabel(phase: string | null): string {
  if (phase === null) return pc.dim('new');
  if (phase === 'rolled-back') return pc.yellow(phase);
  if (phase === 'planned' || phase === 'approved') return pc.blue(phase);
  return pc.green(phase);
}

export { pc };

/** The line of one phase move: `phase <id>: <from> → <to>`. */
export function phaseLine(migrationId: string, from: string, to: string): string {
  return `${pc.magenta('phase')} ${migrationId}: ${from} → ${pc.bold(to)}`;
}
