import type { Context } from 'hono';
import { html } from 'hono/html';
import { describePacing } from '../../../backfill/index.js';
import type { BackfillDocument } from '../../api/live-documents.js';
import type { ServeEnv } from '../../context.js';
import { actionButton, signInHint } from '../layout.js';
import { num, progressBar, span, when } from '../parts.js';

type BackfillLine = BackfillDocument['progress'][number];
type BackfillHistoryLine = BackfillDocument['history'][number];

/** The action endpoints of a migration's backfill. */
export const backfillAction = (id: string, action: 'start' | 'pause' | 'resume' | 'cancel') =>
  `/api/v1/migrations/${encodeURIComponent(id)}/backfill/${action}`;

const STATE_COLOUR: Readonly<Record<string, string>> = { running: 'blue', done: 'green', paused: 'yellow', pending: 'grey', cancelled: 'red', failed: 'red' };

/** The charts of one step's batches over time: duration (ms) and size (rows), as uPlot reads them from the elements. */
function charts(h: BackfillHistoryLine | undefined) {
  const points = h?.series ?? [];
  const x = points.map((p) => Date.parse(p.at) / 1000);
  const empty = 'no batch committed yet';
  const duration = {
    title: 'batch duration',
    empty,
    x,
    series: [
      { label: 'duration', unit: 'ms', values: points.map((p) => p.durationMs) },
      { label: 'longest', unit: 'ms', colour: '#cf222e', values: points.map((p) => p.maxDurationMs) },
    ],
  };
  const size = {
    title: 'batch size',
    empty,
    x,
    series: [
      { label: 'batch size', unit: 'rows', values: points.map((p) => p.batchSize) },
      { label: 'rows filled', unit: 'rows', colour: '#1a7f37', values: points.map((p) => p.rows) },
    ],
  };
  return html`<div class="charts"><div class="chart" data-chart="${JSON.stringify(duration)}"></div><div class="chart" data-chart="${JSON.stringify(size)}"></div></div>`;
}

function step(p: BackfillLine, h: BackfillHistoryLine | undefined) {
  return html`<div class="backfill-step" data-step="${p.stepId}" data-state="${p.state}">
  <h3><span class="mono">${p.stepId}</span> <span class="pill ${STATE_COLOUR[p.state] ?? 'grey'}" data-backfill-state="${p.state}">${p.state}</span></h3>
  ${progressBar(p.rowsDone, p.rowsTotal, p.state, true)}
  <dl class="kv">
    <div><dt>rows done / total</dt><dd>${num(p.rowsDone)} / ${num(p.rowsTotal)}</dd></div>
    <div><dt>rows/s</dt><dd>${num(Math.round(p.ratePerSec))}</dd></div>
    <div><dt>ETA</dt><dd>${p.state === 'done' ? 'done' : span(p.etaSeconds === null ? null : p.etaSeconds * 1000)}</dd></div>
    <div><dt>workers</dt><dd>${p.workers}</dd></div>
    <div><dt>batches</dt><dd>${num(p.batches)}</dd></div>
    <div><dt>batch size</dt><dd>${num(p.batchSize)}</dd></div>
    <div><dt>last / longest batch</dt><dd>${Math.round(p.lastBatchMs)} / ${Math.round(p.longestBatchMs)} ms</dd></div>
    <div><dt>ranges</dt><dd>${p.rangesDone} / ${p.rangesTotal}</dd></div>
  </dl>
  ${p.pacing ? html`<p class="small${p.pacing.state === 'minimum' ? ' c-yellow' : ''}" data-pacing="${p.pacing.state}">pacing: ${describePacing(p.pacing)}</p>` : ''}
  ${p.throttledBy ? html`<p class="c-yellow small">throttled: ${p.throttledBy}</p>` : ''}
  <p class="small muted">${p.retries} retries · updated ${when(p.updatedAt)}</p>
  ${charts(h)}
</div>`;
}

/** The backfill island: totals, progress and the batch chart per step, and start / pause / resume / cancel. */
export function backfillSection(c: Context<ServeEnv>, doc: BackfillDocument) {
  const id = doc.migrationId;
  const t = doc.totals;
  return html`${
    doc.progress.length === 0
      ? html`<p class="muted">Not started: ${doc.steps.join(', ')} ${doc.steps.length === 1 ? 'waits' : 'wait'} for <code>ferry backfill ${id}</code> (or start it here).</p>`
      : doc.progress.length > 1
        ? html`<p>all steps: <b>${num(t.rowsDone)} / ${num(t.rowsTotal)}</b> rows · ${num(Math.round(t.ratePerSec))} rows/s · ETA ${span(t.etaSeconds === null ? null : t.etaSeconds * 1000)} · ${t.workers} workers</p>`
        : ''
  }
${doc.progress.map((p) =>
  step(
    p,
    doc.history.find((h) => h.stepId === p.stepId),
  ),
)}
${doc.job.running ? html`<p><span class="pill blue">the dashboard is running this backfill</span></p>` : ''}
${doc.job.lastError ? html`<p class="c-red">the last backfill the dashboard ran failed: ${doc.job.lastError}</p>` : ''}
<div class="actions">
  ${actionButton(c, 'start backfill', backfillAction(id, 'start'), { kind: 'primary', id: 'backfill-start' })}
  ${actionButton(c, 'pause', backfillAction(id, 'pause'), { id: 'backfill-pause' })}
  ${actionButton(c, 'resume', backfillAction(id, 'resume'), { id: 'backfill-resume' })}
  ${actionButton(c, 'cancel', backfillAction(id, 'cancel'), { kind: 'danger', confirm: 'Cancel the backfill? Rows done stay done; it can be started again.', id: 'backfill-cancel' })}
  ${signInHint(c)}
  <div class="problem" hidden></div>
</div>`;
}
