import type { RehearsalReport } from '../workflow/rehearse.js';
import { EMPTY_TABLE_NOTE } from '../workflow/rehearse-data.js';
import { pc } from './output.js';

const n = (v: number) => v.toLocaleString('en-US');

/** The human lines of one rehearsal: the copy and its data, the stages, what each step ran on, the summary. */
export function rehearsalLines(r: RehearsalReport): string[] {
  const lines = [pc.dim(`  copy: ${r.copy}`)];
  for (const t of r.data.tables) {
    const of = `${n(t.copied)} of ${t.sourceRowsEstimated ? '~' : ''}${n(t.sourceRows)} rows`;
    const extra = [
      t.complete ? 'all' : 'sample',
      t.referenced ? `${n(t.referenced)} referenced by other tables' rows` : '',
      t.skipped ? pc.red(`${n(t.skipped)} not copied`) : '',
    ]
      .filter(Boolean)
      .join(', ');
    lines.push(pc.dim(`  data: ${t.table} ${of} (${extra})`));
  }
  if (r.data.allTables) lines.push(pc.dim(`  data: every table copied: ${r.data.allTables}`));
  for (const s of r.stages) {
    lines.push(`  ${s.ok ? pc.green('✔') : pc.red('✘')} ${s.name}`);
    for (const d of s.detail) lines.push(`      ${pc.red(d)}`);
  }
  for (const s of r.steps) {
    const tables = s.tables.map((t) => `${t.table} ${n(t.rehearsalRows)} rows (source ${t.sourceRowsEstimated ? '~' : ''}${n(t.sourceRows)})`).join(', ');
    const what = s.tablesUnknown ? `tables unknown (${s.tablesUnknown})` : tables || 'no existing table';
    const changed = s.rowsChanged === null || (s.rowsChanged === 0 && s.kind !== 'backfill') ? '' : `; changed ${n(s.rowsChanged)} rows`;
    lines.push(`  step ${s.stepId}: ${what}${changed}`);
    if (s.ranOnEmptyTables) lines.push(`      ${pc.yellow(EMPTY_TABLE_NOTE)}`);
  }
  const colour = !r.ok ? pc.red : r.steps.some((s) => s.ranOnEmptyTables) ? pc.yellow : pc.green;
  lines.push(colour(`  ${r.summary}`));
  return lines;
}
