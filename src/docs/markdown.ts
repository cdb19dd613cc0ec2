import { formatHold } from '../rollout/schedule.js';
/** Escape text for a Markdown table cell (pipes and line breaks). */
export function cell(text: string | number): string {
  return String(text).replaceAll('|', '\\|').replace(/\r?\n/g, ' ');
}

/** A Markdown table; an empty body renders the `empty` line instead. */
export function table(head: string[], rows: (string | number)[][], empty = '_none_'): string[] {
  if (rows.length === 0) return [empty];
  return [`| ${head.map(cell).join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`)];
}

/** A checklist line: ticked only when `done`. */
export function checkbox(done: boolean, text: string): string {
  return `- [${done ? 'x' : ' '}] ${text}`;
}

/** An instant as `2026-11-27 09:30 UTC` (minutes are what a document needs). */
export function when(d: Date | string | null | undefined): string {
  if (d === null || d === undefined) return '—';
  const x = typeof d === 'string' ? new Date(d) : d;
  return `${x.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** A duration for people: `3d 4h`, `2h 5m`, `42s`, `0.4s`; `—` when unknown. */
export function span(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : formatHold(ms, 2);
}

/** Bytes for people: `8 kB`, `12.3 MB`. */
export function bytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** A count with thousands separators: `300,000`. */
export function count(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** A percentage: `0.1 %`, `25 %`. */
export function pct(fraction: number): string {
  return `${Number((fraction * 100).toFixed(2))} %`;
}
