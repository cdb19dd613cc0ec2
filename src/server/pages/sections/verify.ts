import { html } from 'hono/html';
import type { VerifyDocument } from '../../api/documents.js';
import { num, when } from '../parts.js';

type Check = VerifyDocument['checks'][number];
type Values = Check['rows'][number]['source'];

const show = (v: unknown) => (v === undefined ? '—' : v === null ? 'NULL' : typeof v === 'string' ? v : JSON.stringify(v));

function values(side: Values, columns: readonly string[], differing: ReadonlySet<string>) {
  if (side === null) return html`<span class="muted">(no row)</span>`;
  const cols = columns.length ? columns : Object.keys(side);
  return html`${cols.map((c) => html`<div${differing.has(c) ? html` class="differs"` : ''}><span class="muted">${c}</span> = <code>${show(side[c])}</code></div>`)}`;
}

function rows(c: Check) {
  if (c.rows.length === 0 && c.other.length === 0) return '';
  return html`${
    c.rows.length
      ? html`<table class="differences"><thead><tr><th>key</th><th>kind</th><th>source</th><th>target</th></tr></thead><tbody>${c.rows.map((d) => {
          const differing = new Set(d.columns);
          return html`<tr class="difference" data-kind="${d.kind}"><td>${Object.entries(d.key).map(([k, v]) => html`<div><span class="muted">${k}</span> = <code>${v}</code></div>`)}</td><td><span class="pill ${
            d.kind === 'changed' ? 'yellow' : 'red'
          }">${d.kind}</span></td><td>${values(d.source, d.columns, differing)}</td><td>${values(d.target, d.columns, differing)}</td></tr>`;
        })}</tbody></table>`
      : ''
  }${c.other.length ? html`<ul class="small">${c.other.map((o) => html`<li><code>${show(o)}</code></li>`)}</ul>` : ''}${
    c.dataErrors > c.rows.length + c.other.length
      ? html`<p class="small muted">showing ${c.rows.length + c.other.length} of ${num(c.dataErrors)} differences</p>`
      : ''
  }`;
}

function figures(f: Record<string, unknown>) {
  const scalar = Object.entries(f).filter(([, v]) => v === null || ['string', 'number', 'boolean'].includes(typeof v));
  if (scalar.length === 0) return '';
  return html`<dl class="kv">${scalar.map(([k, v]) => html`<div><dt>${k}</dt><dd>${typeof v === 'number' ? num(v) : String(v)}</dd></div>`)}</dl>`;
}

function check(c: Check) {
  const state = !c.ran
    ? html`<span class="pill yellow">not run</span>`
    : c.ok
      ? html`<span class="pill green">pass</span>`
      : html`<span class="pill red">fail</span>`;
  return html`<div class="check" data-check="${c.check}" data-ok="${c.ok === null ? 'none' : String(c.ok)}">
  <h3><span class="mono">${c.check}</span> ${state} ${c.current ? '' : html`<span class="pill yellow" title="the check was edited since this result">stale</span>`}
  <span class="small muted">${c.kind}${c.mode ? ` · ${c.mode}` : ''}${c.finishedAt ? ` · ${when(c.finishedAt)}` : ''}${c.by ? ` by ${c.by}` : ''}</span></h3>
  ${c.error ? html`<p class="c-red">${c.error}</p>` : ''}
  ${figures(c.figures)}
  ${rows(c)}
</div>`;
}

/** The verify island: each declared check's latest result with its figures, and the differing keys with both values. */
export function verifySection(doc: VerifyDocument) {
  const id = doc.migrationId;
  if (doc.checks.length === 0 && doc.pending.length === 0)
    return html`<p class="muted">This migration declares no checks; <code>ferry verify ${id}</code> runs each step's verify.</p>`;
  const total = doc.dataErrors.total;
  return html`<p>${total === 0 ? html`<span class="pill green">no data errors</span>` : html`<span class="pill red">${num(total)} data errors</span>`}${
    doc.pending.length ? html` <span class="pill yellow">not run yet: ${doc.pending.join(', ')}</span>` : ''
  }</p>
${doc.checks.map(check)}
<p class="small muted">Run the checks with <code>ferry verify ${id} --full</code>.</p>`;
}
