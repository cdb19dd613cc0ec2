import { html } from 'hono/html';
import type { OverviewRow } from './data.js';
import { colourBadge, ladder, num, phasePill, progressBar, riskPill } from './parts.js';

const VERIFY_COLOUR: Readonly<Record<string, string>> = { passed: 'green', failed: 'red', partial: 'yellow', 'never-ran': 'yellow', none: 'grey' };
const VERIFY_RANK: Readonly<Record<string, number>> = { none: 0, passed: 1, partial: 2, 'never-ran': 3, failed: 4 };
const RISK_RANK: Readonly<Record<string, number>> = { low: 1, medium: 2, high: 3, critical: 4 };
const HEALTH_RANK: Readonly<Record<string, number>> = { green: 1, 'no-data': 2, yellow: 3, red: 4 };

function verifyLabel(v: OverviewRow['verify']): string {
  if (v.state === 'none') return 'none';
  if (v.state === 'never-ran') return `${v.pending} not run`;
  if (v.state === 'failed') return `${v.failed} failed`;
  if (v.state === 'partial') return `${v.passed} passed, ${v.pending} not run`;
  return `${v.passed} passed`;
}

function backfillCell(r: OverviewRow) {
  const b = r.backfills;
  if (b.length === 0) return html`<td data-value="-1"><span class="muted">—</span></td>`;
  const done = b.reduce((s, x) => s + x.rowsDone, 0);
  const total = b.reduce((s, x) => s + x.rowsTotal, 0);
  const state = b.some((x) => x.state === 'failed')
    ? 'failed'
    : b.some((x) => x.state === 'paused')
      ? 'paused'
      : b.every((x) => x.state === 'done')
        ? 'done'
        : (b.find((x) => x.state !== 'done')?.state ?? 'running');
  const f = total > 0 ? done / total : 1;
  return html`<td data-value="${f}" class="nowrap" title="${num(done)} of ${num(total)} rows">${progressBar(done, total, state)}<div class="small muted">${num(done)} / ${num(total)} · ${state}</div></td>`;
}

function flagCell(r: OverviewRow) {
  const f = r.flag;
  if (f === null) return html`<td class="num" data-value="-1"><span class="muted">no flag</span></td>`;
  const off = f.stored && !f.enabled && !f.graduated;
  const text = f.graduated ? 'graduated' : off ? `off (${f.percentage} % kept)` : `${f.effectivePercentage} %`;
  return html`<td class="num" data-value="${f.effectivePercentage}"><span class="mono small">${f.key}</span><div class="flag-pct${off ? ' c-red' : ''}" data-flag-percentage="${f.effectivePercentage}">${text}</div></td>`;
}

/** One migration's row. */
function row(r: OverviewRow) {
  return html`<tr data-id="${r.id}" data-active="${r.active ? 'true' : 'false'}">
  <td data-value="${r.id}"><a href="/migrations/${encodeURIComponent(r.id)}"><b>${r.title}</b></a><div class="small muted mono">${r.id}</div></td>
  <td data-value="${r.ladder.current ?? 0}">${ladder(r.ladder, r.phase)}</td>
  <td data-value="${r.phase ?? ''}" class="phase">${phasePill(r.phase)}</td>
  <td data-value="${r.type}">${r.type}${r.inferredType !== r.type ? html` <span class="small c-yellow" title="the linter infers ${r.inferredType}">≠ ${r.inferredType}</span>` : ''}<div class="small muted">${r.strategy}</div></td>
  <td data-value="${RISK_RANK[r.risk] ?? 0}">${riskPill(r.risk)}</td>
  ${flagCell(r)}
  <td data-value="${r.health ? (HEALTH_RANK[r.health.colour] ?? 0) : 0}">${colourBadge(r.health?.colour ?? null)}</td>
  ${backfillCell(r)}
  <td data-value="${VERIFY_RANK[r.verify.state] ?? 0}"><span class="pill ${VERIFY_COLOUR[r.verify.state] ?? 'grey'}" data-verify="${r.verify.state}">${verifyLabel(r.verify)}</span>${
    r.verify.dataErrors > 0 ? html`<div class="small c-red">${num(r.verify.dataErrors)} data errors</div>` : ''
  }</td>
  <td data-value="${r.drift}">${r.drift === 0 ? html`<span class="pill green">none</span>` : html`<span class="pill red">${r.drift} drift</span>`}</td>
</tr>`;
}

/** The overview's table: every migration as one row (the live island refetches it). */
export function overviewTable(rows: readonly OverviewRow[]) {
  const active = rows.filter((r) => r.active).length;
  return html`<p class="muted small" id="overview-count">${rows.length} migration${rows.length === 1 ? '' : 's'}, ${active} active</p>
<table class="sortable" id="overview">
<thead><tr>
  <th data-sort>migration</th><th data-sort data-type="num">workflow step</th><th data-sort>phase</th><th data-sort>type · strategy</th>
  <th data-sort data-type="num">risk</th><th data-sort data-type="num" class="num">flag</th><th data-sort data-type="num">health</th>
  <th data-sort data-type="num">backfill</th><th data-sort data-type="num">verify</th><th data-sort data-type="num">drift</th>
</tr></thead>
<tbody>${rows.map(row)}</tbody>
</table>
<p id="overview-empty" class="empty-row muted"${rows.length ? ' hidden' : ''}>${rows.length ? 'no active migrations' : 'no migrations yet: create one with ferry new'}</p>`;
}

/** The overview page's body: the "active only" filter (outside the island, so a refresh keeps it) and the live table. */
export function overviewBody(island: ReturnType<typeof html>) {
  return html`<div class="toolbar"><h1>Migrations</h1><label><input type="checkbox" id="active-only"> active only</label></div>
<div class="card">${island}</div>`;
}
