import { type DecisionMatrix, type MetricVerdict, type ResourceSignal, signalCompared, signalFigure, signalName } from '../health/index.js';
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
    case 'resources':
      return ['resource usage', '', '', '', ''];
    default:
      return ['data errors', String(v.value ?? 0), '—', String(v.compared ?? 0), `${v.threshold.yellow} / ${v.threshold.red}`];
  }
}

/** One signal of the resource row, indented under it: the stage's figure, the baseline's, the comparison and the band. */
function signalRow(s: ResourceSignal): string[] {
  const band = `${signalCompared(s.signal, s.threshold.yellow)} / ${signalCompared(s.signal, s.threshold.red)}`;
  return [`  ${signalName(s.signal)}`, signalFigure(s.signal, s.value), signalFigure(s.signal, s.baseline), signalCompared(s.signal, s.compared), band];
}

/** The matrix's lines: each metric, and under the resource row each of its signals, with its colour. */
function lines(m: DecisionMatrix): { cells: string[]; colour: MetricVerdict['colour'] }[] {
  return m.metrics.flatMap((v) => [{ cells: row(v), colour: v.colour }, ...(v.signals ?? []).map((s) => ({ cells: signalRow(s), colour: s.colour }))]);
}

/** The matrix as a table for people, one metric per line. */
export function matrixLines(m: DecisionMatrix): string[] {
  const head = ['metric', 'new (canary)', 'old (baseline)', 'compared', 'yellow / red'];
  const rows = lines(m);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r.cells[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  const traffic = (n: number | null) => (n === null ? 'n/a' : String(Math.round(n)));
  return [
    `  ${pc.dim(fmt(head))}  ${pc.dim('colour')}`,
    ...rows.map((r) => `  ${fmt(r.cells)}  ${colourLabel(r.colour)}`),
    pc.dim(
      `  traffic: new ${traffic(m.traffic.new.requests)}, old ${traffic(m.traffic.old.requests)} requests (at least ${m.traffic.minRequests} each to judge)${m.baselineWindow ? '; baseline from before the stage' : ''}`,
    ),
    ...resourceNote(m),
  ];
}

/** Why the resource row says what it says (its notes are where the numbers and skips are explained), and whether it counts. */
function resourceNote(m: DecisionMatrix): string[] {
  const r = m.metrics.find((v) => v.metric === 'resources');
  if (!r) return [];
  const counted = r.colour === 'no-data' ? ' (not counted in the overall colour)' : '';
  const notes = r.signals?.length ? r.signals.map((s) => s.note).join('; ') : r.note;
  return [pc.dim(`  resources${counted}: ${notes}`)];
}
