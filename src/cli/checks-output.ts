import cliProgress from 'cli-progress';
import pc from 'picocolors';
import type { DataErrorCount, RowDifference } from '../verify/index.js';
import type { CheckResult } from '../workflow/check-store.js';
import type { CheckProgress } from '../workflow/run-checks.js';

const n = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : String(v ?? '?'));

/** The figures of a check result in a few words. */
export function checkFigures(r: CheckResult): string {
  const f = r.figures;
  if (r.error) return pc.red(`could not run: ${r.error}`);
  const cost = f.queries === undefined ? '' : pc.dim(` (${n(f.queries)} queries, ${n(f.rowsFetched)} rows fetched)`);
  const cohort = f.cohort ? pc.dim(` cohort ${(f.cohort as { flag: string; percent: number }).flag} ${(f.cohort as { percent: number }).percent} %`) : '';
  switch (r.kind) {
    case 'count':
      return `source ${n(f.sourceRows)} rows, target ${n(f.targetRows)} rows${f.difference ? `, ${pc.red(`difference ${n(f.difference)}`)}` : ''}${cohort}${cost}`;
    case 'schema':
      return `${n(f.assertions)} assertion(s), ${f.failed ? pc.red(`${n(f.failed)} failed`) : 'all hold'}`;
    default:
      if (r.mode === 'sample') return `${n(f.sampled)} sampled key(s), ${n(f.differenceCount)} difference(s)${cohort}${cost}`;
      if (r.kind === 'diff') return `${n(f.differenceCount)} differing row(s)${cohort}${cost}`;
      return `source ${n(f.sourceRows)} rows, target ${n(f.targetRows)} rows, ${n(f.chunks)} chunks${f.chunksSkipped ? ` (${n(f.chunksSkipped)} resumed)` : ''}, ${n(f.differenceCount)} difference(s)${cohort}${cost}`;
  }
}

/** The data-error total as the health matrix judges it, and the per-check sum when rows were found by several checks. */
export function dataErrorsLine(d: DataErrorCount): string {
  const twice = d.perCheckSum > d.total ? ` (${n(d.perCheckSum)} by check: rows found by several checks of one table count once)` : '';
  return `data errors: ${n(d.total)}${twice}`;
}

const show = (v: string | null | undefined) => (v === null || v === undefined ? 'NULL' : JSON.stringify(v));

/** One differing row: its key and, per differing column, both values. */
export function differenceLine(d: RowDifference): string {
  const key = Object.entries(d.key)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
  if (d.kind === 'changed') return `changed ${key}: ${d.columns.map((c) => `${c} ${show(d.source?.[c])} → ${show(d.target?.[c])}`).join('; ')}`;
  const values = d.kind === 'missing' ? d.source : d.target;
  const shown = Object.entries(values ?? {})
    .map(([c, v]) => `${c}=${show(v)}`)
    .join(', ');
  return `${d.kind === 'missing' ? 'missing in target' : 'only in target'} ${key}: ${shown}`;
}

/** When a check result was recorded, as people read it: `2026-12-02 03:20 UTC`. */
const ranAt = (r: CheckResult) => `${r.finishedAt.slice(0, 16).replace('T', ' ')} UTC`;

/** The lines of one check result: a mark, name, figures and when it ran, then its first `limit` differences. */
export function checkLines(r: CheckResult, limit = 20): string[] {
  const mark = r.ok ? pc.green('✔ pass') : pc.red('✘ fail');
  const lines = [
    `  ${mark}  ${pc.bold(r.check)} ${pc.dim(`${r.kind}${r.mode === 'sample' ? ', sampled' : ''}`)}  ${checkFigures(r)}  ${pc.dim(`ran ${ranAt(r)} by ${r.by}`)}`,
  ];
  if (r.kind === 'schema') {
    for (const a of r.differences as { detail: string }[]) lines.push(`      ${pc.red(a.detail)}`);
    return lines;
  }
  const diffs = r.differences as RowDifference[];
  for (const d of diffs.slice(0, limit)) lines.push(`      ${pc.red(differenceLine(d))}`);
  const more = r.dataErrors - Math.min(diffs.length, limit);
  if (more > 0 && r.kind !== 'count') lines.push(pc.dim(`      … and ${n(more)} more (--json shows the first ${diffs.length})`));
  return lines;
}

/** Progress of long checksum checks: a bar of chunks on a TTY, a plain line every `everyMs` otherwise. */
export function checkProgressDisplay(write: (line: string) => void, tty: boolean, everyMs = 5000): { update(p: CheckProgress): void; stop(): void } {
  let bar: cliProgress.SingleBar | undefined;
  let current = '';
  let lastLine = 0;
  const stop = () => {
    bar?.stop();
    bar = undefined;
  };
  return {
    update(p) {
      const label = `${p.migrationId}/${p.check}`;
      if (tty) {
        if (current !== label) stop();
        if (!bar) {
          bar = new cliProgress.SingleBar(
            { format: `  checksum ${p.check} [{bar}] {percentage}% {value}/{total} chunks | {diffs} difference(s) | ETA {eta_formatted}`, hideCursor: true },
            cliProgress.Presets.shades_classic,
          );
          bar.start(p.chunksTotal, 0, { diffs: 0 });
        }
        current = label;
        bar.update(p.chunksDone, { diffs: p.differenceCount });
        if (p.chunksDone >= p.chunksTotal) stop();
        return;
      }
      const now = Date.now();
      if (now - lastLine >= everyMs || p.chunksDone >= p.chunksTotal) {
        write(`  checksum ${label}: ${p.chunksDone}/${p.chunksTotal} chunks, ${p.differenceCount} difference(s)`);
        lastLine = now;
      }
    },
    stop,
  };
}

/** What `verify --status` says of a migration's declared data checks: which ran (and passed), which never ran. */
export interface ChecksVerdict {
  /** Every declared check has a latest result for its current declaration, and it passed. */
  complete: boolean;
  passed: string[];
  failed: string[];
  neverRan: string[];
}

/** The verdict on the declared checks, from their latest results and the checks without one. */
export function checksVerdict(v: { checks: readonly CheckResult[]; checksPending: readonly string[] }): ChecksVerdict {
  const passed = v.checks.filter((c) => c.ok).map((c) => c.check);
  const failed = v.checks.filter((c) => !c.ok).map((c) => c.check);
  return { complete: failed.length === 0 && v.checksPending.length === 0, passed, failed, neverRan: [...v.checksPending] };
}

/** One line saying which declared checks passed, failed or never ran; empty when the migration declares none. */
export function checksSummary(v: ChecksVerdict): string {
  const total = v.passed.length + v.failed.length + v.neverRan.length;
  if (total === 0) return '';
  const parts = [
    `${v.passed.length} of ${total} declared check(s) passed`,
    ...(v.failed.length ? [pc.red(`failed: ${v.failed.join(', ')}`)] : []),
    ...(v.neverRan.length ? [pc.yellow(`never ran: ${v.neverRan.join(', ')}`)] : []),
  ];
  return `  checks: ${parts.join('; ')}`;
}
