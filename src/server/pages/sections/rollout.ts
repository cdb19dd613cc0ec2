import type { Context } from 'hono';
import { html } from 'hono/html';
import type { RolloutDocument } from '../../api/live-documents.js';
import type { ServeEnv } from '../../context.js';
import { actionButton, signInHint } from '../layout.js';
import { prose, span, when } from '../parts.js';

/** The action endpoints of a migration's rollout. */
export const rolloutAction = (id: string, action: 'advance' | 'resume' | 'set' | 'kill') => `/api/v1/migrations/${encodeURIComponent(id)}/rollout/${action}`;

/** The flag's state in words and colour: off after the kill switch, else its percentage. */
function flagState(r: RolloutDocument) {
  if (!r.started) return html`<span class="flag-state muted" data-flag="not-started">not started (0 %)</span>`;
  if (r.killed) return html`<span class="flag-state c-red" data-flag="off">flag OFF · kill switch</span>`;
  return html`<span class="flag-state c-green" data-flag="on">flag on for ${r.flagPercentage} %</span>`;
}

/** The stage ladder 5 → 25 → 50 → 75 → 100, the current stage marked (red when the flag is off). */
function stageLadder(r: RolloutDocument) {
  return html`<div class="stages">${r.ladder.map((s) => {
    const state = s.state === 'current' && r.killed ? 'killed' : s.state;
    return html`<div class="stage ${state}"${s.state === 'current' ? html` aria-current="step"` : ''}><span class="pct">${s.percent} %</span><span class="small">${
      s.state === 'next' ? 'next · ' : ''
    }hold ${span(s.holdMs)}</span></div>`;
  })}</div>`;
}

/** The rollout island: flag state, stage ladder, the hold's countdown, the next gate, and advance / resume / set / kill switch. */
export function rolloutSection(c: Context<ServeEnv>, r: RolloutDocument) {
  if (r.flag === null) return html`<p class="muted">This migration names no flag, so it has no rollout.</p>`;
  const id = r.migrationId;
  const until = r.stage > 0 && r.remainingMs > 0 ? new Date(Date.now() + r.remainingMs).toISOString() : null;
  const ctl = r.controller;
  return html`<div class="rollout" data-percentage="${r.flagPercentage}" data-enabled="${r.flagEnabled ? 'true' : 'false'}" data-killed="${r.killed ? 'true' : 'false'}">
  <p>flag <span class="mono">${r.flag}</span> · ${flagState(r)} · phase <b>${r.phase ?? '—'}</b></p>
  ${stageLadder(r)}
  <dl class="kv">
    <div><dt>stage</dt><dd>${r.stage === 0 ? '—' : `${r.stage} of ${r.stages.length}`}</dd></div>
    <div><dt>held</dt><dd>${span(r.heldMs)} of ${span(r.holdMs)}</dd></div>
    <div><dt>hold</dt><dd>${until ? html`<span data-until="${until}">${span(r.remainingMs)} left</span>` : r.stage > 0 ? 'elapsed' : '—'}</dd></div>
    <div><dt>next stage</dt><dd>${r.next ? `${r.next.percent} %` : 'none (last)'}</dd></div>
  </dl>
  <p><b>next gate:</b> ${prose(r.nextGate.replaceAll('<id>', id))}${r.paused ? html` <span class="pill yellow">paused</span>` : ''}</p>
  ${ctl ? html`<p class="small muted">health controller: ${ctl.state}${ctl.lastColour ? ` · last ${ctl.lastColour}` : ''}${ctl.reason ? html` · ${prose(ctl.reason)}` : ''}${ctl.owner ? ` · run by ${ctl.owner}` : ''}${ctl.heartbeatAt ? ` · ${when(ctl.heartbeatAt)}` : ''}</p>` : ''}
</div>
<div class="actions">
  ${actionButton(c, r.started ? 'advance' : 'start (first stage)', rolloutAction(id, 'advance'), { kind: 'primary', id: 'rollout-advance' })}
  ${actionButton(c, 'resume', rolloutAction(id, 'resume'), { id: 'rollout-resume' })}
  <label class="small" for="rollout-pct">set</label><input type="number" id="rollout-pct" min="0" max="100" step="1" value="${r.percentage}">
  ${actionButton(c, 'set %', rolloutAction(id, 'set'), { input: 'percentage=rollout-pct', id: 'rollout-set' })}
  ${actionButton(c, 'kill switch (flag off)', rolloutAction(id, 'kill'), { kind: 'danger', confirm: `Turn flag ${r.flag} off for everyone now?`, id: 'rollout-kill' })}
  ${signInHint(c)}
  <div class="problem" hidden></div>
</div>`;
}
