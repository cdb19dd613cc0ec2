import { html } from 'hono/html';
import { METRIC_NAMES, type MetricName, type ResourceSignal, signalCompared, signalFigure, signalName } from '../../../health/index.js';
import type { HealthDocument } from '../../api/live-documents.js';
import { colourBadge, num, pct, prose, span, when } from '../parts.js';

type Verdict = HealthDocument['matrix']['metrics'][number];
type HealthSeries = HealthDocument['series'];

/** A metric's value in its unit: error rate as %, p99 in ms, data errors as a count. */
function value(metric: string, v: number | null): string {
  if (v === null || metric === 'resources') return '—';
  if (metric === 'errorRate') return pct(v);
  if (metric === 'latencyP99') return `${num(Math.round(v * 10) / 10)} ms`;
  return num(v);
}

/** What the band compares, in its unit: the p99 increase is a fraction of the baseline. */
function band(metric: string, t: { yellow: number; red: number }): string {
  if (metric === 'resources') return 'per signal, below';
  if (metric === 'dataErrors') return `green < ${t.yellow} · yellow ≤ ${t.red} · red > ${t.red}`;
  const f = (x: number) => (metric === 'latencyP99' ? `+${pct(x)}` : pct(x));
  return `green < ${f(t.yellow)} · yellow ≤ ${f(t.red)} · red > ${f(t.red)}`;
}

function compared(v: Verdict): string {
  if (v.compared === null || v.metric === 'resources') return '—';
  return v.metric === 'latencyP99' ? `${v.compared >= 0 ? '+' : ''}${pct(v.compared)}` : value(v.metric, v.compared);
}

/** A signal of the resource row, under it: its figures in their units; its note is in the row's. */
function signalRow(s: ResourceSignal) {
  const band = `green < ${signalCompared(s.signal, s.threshold.yellow)} · yellow ≤ ${signalCompared(s.signal, s.threshold.red)} · red > ${signalCompared(s.signal, s.threshold.red)}`;
  return html`<tr data-signal="${s.signal}" class="c-row-${s.colour}">
  <td class="small">${signalName(s.signal)}</td>
  <td class="num">${signalFigure(s.signal, s.value)}</td>
  <td class="num">${signalFigure(s.signal, s.baseline)}</td>
  <td class="num">${signalCompared(s.signal, s.compared)}</td>
  <td class="small">${band}</td>
  <td>${colourBadge(s.colour)}</td>
  <td></td>
</tr>`;
}

function matrix(r: HealthDocument) {
  const mx = r.matrix;
  return html`<table class="matrix" id="health-matrix" data-colour="${mx.colour}">
<thead><tr><th>metric</th><th class="num">new cohort</th><th class="num">old cohort (baseline)</th><th class="num">compared</th><th>thresholds</th><th>colour</th><th>why</th></tr></thead>
<tbody>
<tr class="traffic"><td>requests</td><td class="num">${mx.traffic.new.requests === null ? '—' : num(mx.traffic.new.requests)}</td><td class="num">${mx.traffic.old.requests === null ? '—' : num(mx.traffic.old.requests)}</td><td></td><td class="small muted">at least ${num(mx.traffic.minRequests)} each</td><td></td><td></td></tr>
${mx.metrics.map(
  (v) => html`<tr data-metric="${v.metric}" class="c-row-${v.colour}">
  <td><b>${METRIC_NAMES[v.metric as MetricName] ?? v.metric}</b></td>
  <td class="num">${value(v.metric, v.value)}</td>
  <td class="num">${value(v.metric, v.baseline)}</td>
  <td class="num">${compared(v)}</td>
  <td class="small">${band(v.metric, v.threshold)}</td>
  <td>${colourBadge(v.colour)}</td>
  <td class="small muted">${v.note}</td>
</tr>${(v.signals ?? []).map(signalRow)}`,
)}
</tbody></table>`;
}

/** One chart per metric with a line per cohort, as uPlot reads it from the element. */
function charts(s: HealthSeries) {
  if (s === null) return '';
  const x = s.cohorts.new.map((p) => Date.parse(p.at) / 1000);
  const series = (metric: 'errorRate' | 'p99Ms', unit: string, scale: number) =>
    (['new', 'old'] as const).map((cohort) => ({
      label: `${cohort} cohort`,
      unit,
      colour: cohort === 'new' ? '#d97706' : '#2563eb',
      values: s.cohorts[cohort].map((p) => (p[metric] === null ? null : (p[metric] as number) * scale)),
    }));
  const error = { title: 'error rate per cohort', empty: 'no metrics recorded yet', x, series: series('errorRate', '%', 100) };
  const p99 = { title: 'p99 latency per cohort', empty: 'no metrics recorded yet', x, series: series('p99Ms', 'ms', 1) };
  return html`<div class="charts">
  <div class="chart" id="chart-error-rate" data-chart="${JSON.stringify(error)}"></div>
  <div class="chart" id="chart-p99" data-chart="${JSON.stringify(p99)}"></div>
</div>
<p class="small muted">SDK metrics over ${span(s.window.ms)} in buckets of ${span(s.stepMs)}, up to ${when(s.window.to)}.</p>`;
}

/** The health island: the decision matrix (new vs old, values, baselines, thresholds, colours), the decision, and the cohorts' charts. */
export function healthSection(r: HealthDocument | null, error: string | null) {
  if (r === null) return html`<p class="muted">No decision matrix: ${error ?? 'no rollout yet'}</p>`;
  const mx = r.matrix;
  return html`<p>Overall ${colourBadge(mx.colour)} at ${mx.percentage} % · source <b>${mx.source}</b> · window ${span(mx.window.ms)} (${when(mx.window.from)} → ${when(mx.window.to)})${
    mx.baselineWindow ? html` · baseline from the window before the stage (${when(mx.baselineWindow.from)} → ${when(mx.baselineWindow.to)})` : ''
  }</p>
${matrix(r)}
<p class="decision"><b>decision:</b> <span class="pill ${r.decision.action === 'rollback' ? 'red' : r.decision.action === 'pause' ? 'yellow' : 'green'}">${r.decision.action}</span> ${prose(r.decision.reason)}</p>
${charts(r.series)}`;
}
