import type { DecisionMatrix, MetricVerdict } from '../health/index.js';
import { pc } from './output.js';

const COLOUR = { green: pc.green, yellow: pc.yellow, red: pc.red, 'no-data': pc.dim } as const;

/** "GREEN", "NO DATA" … in its colour. */
export function colourLabel(c: DecisionMatrix['colour']): string {
  return COLOUR[c](c === 'no-data' ? 'NO DATA' : c.toUpperCase());
}

const pct = (f: number | null) => (f === null ? '—' : `${Number((f * 100).toFixed(3))} %`);
const ms = (n: number | null) => (n === null ? '—' : `${Number(n.toFixed(2))} ms`);
const signed = (f: number | null) => (f === null ? '—' : `${f >= 0 ? '+' : ''}${Number((f * 100).toFixed(1))} %`);

function row(v: MetricVerdict): string[] {
  switch (v.metric) {
    case 'errorRate':
      return ['error rate', pct(v.value), pct(v.baseline), pct(v.compared), `${pct(v.threshold.yellow)} / ${pct(v.threshold.red)}`];
    case 'latencyP99':
      return ['p99 latency', ms(v.value), ms(v.baseline), signed(v.compared), `${signed(v.threshold.yellow)} / ${signed(v.threshold.red)}`];
    default:
      return ['data errors', String(v.value ?? 0), '—', String(v.compared ?? 0), `${v.threshold.yellow} / ${v.threshold.red}`];
  }
}

/** The matrix as a table for people, one metric per line. */
export function matrixLines(m: DecisionMatrix): string[] {
  const head = ['metric', 'new (canary)', 'old (baseline)', 'compared', 'yellow / red'];
  const rows = m.metrics.map(row);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  const traffic = (n: number | null) => (n === null ? 'n/a' : String(Math.round(n)));
  return [
    `  ${pc.dim(fmt(head))}  ${pc.dim('colour')}`,
    ...rows.map((r, i) => `  ${fmt(r)}  ${colourLabel((m.metrics[i] as MetricVerdict).colour)}`),
    pc.dim(
      `  traffic: new ${traffic(m.traffic.new.requests)}, old ${traffic(m.traffic.old.requests)} requests (at least ${m.traffic.minRequests} each to judge)${m.baselineWindow ? '; baseline from before the stage' : ''}`,
    ),
  ];
}
