import { html } from 'hono/html';
import type { EventsDocument } from '../../api/documents.js';
import { phasePill, when } from '../parts.js';

/** The timeline from the event log: who, when, from → to, why; newest first. */
export function timelineSection(doc: EventsDocument) {
  if (doc.events.length === 0) return html`<p class="muted">Nothing happened yet: the database has no event of this migration.</p>`;
  return html`<ol class="timeline">${[...doc.events].reverse().map(
    (e) => html`<li data-kind="${e.kind}">
  <div><span class="when">${when(e.at)}</span> · <b>${e.actor}</b> · <span class="mono">${e.kind}</span>${e.stepId ? html` <span class="muted">step ${e.stepId}</span>` : ''}</div>
  ${e.fromPhase !== null || e.toPhase !== null ? html`<div>${phasePill(e.fromPhase)} → ${phasePill(e.toPhase)}</div>` : ''}
  ${e.reason ? html`<div class="why">${e.reason}</div>` : ''}
</li>`,
  )}</ol>`;
}
