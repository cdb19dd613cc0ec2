import type { Context } from 'hono';
import { html } from 'hono/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { FerryError } from '../../errors.js';
import { type FleetDocument, fleetDocument, fleetNames } from '../api/fleets.js';
import type { ServeApp, ServeContext, ServeEnv } from '../context.js';
import { problemOf } from '../problem.js';
import { orRefusal } from './data.js';
import { layout } from './layout.js';
import { num, phasePill, progressBar, when } from './parts.js';

// The fleet view: the overview's "Fleets" card (one row per fleet environment with its counts) and the fleet page
// `/fleets/:name` (latest run, the counts, every database, failed and drifted first). Both render the document of
// `GET /api/v1/fleets/{name}`; the databases' state lives in other databases, so these pages are not live islands.

type FleetDatabase = FleetDocument['databases'][number];
type FleetRun = NonNullable<FleetDocument['run']>;

const RUN_COLOUR: Readonly<Record<string, string>> = { running: 'blue', failed: 'red', done: 'green', abandoned: 'grey' };

/** 0: failed or unreachable, 1: drifted, 2: fine — the table's order and its sort value. */
const rank = (d: FleetDatabase) => (d.error !== null || d.ledger?.status === 'failed' ? 0 : d.drift.length > 0 ? 1 : 2);

/** What went wrong last on the database: why it cannot be read now, else its error in the ledger. */
const lastError = (d: FleetDatabase) => d.error ?? d.ledger?.lastError ?? null;

/** "0002_add_email: 3 · (none): 1", most databases first. */
function versionPills(byVersion: Readonly<Record<string, number>>) {
  const entries = Object.entries(byVersion).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  if (entries.length === 0) return html`<span class="muted">—</span>`;
  return html`${entries.map(([v, n]) => html`<span class="pill ${v === '(none)' ? 'grey' : 'blue'}" data-version="${v}">${v}: ${num(n)}</span> `)}`;
}

/** A count, red (or yellow) when not zero. */
const countCell = (n: number, colour: string, what: string) =>
  html`<td class="num" data-value="${n}" data-count="${what}">${n === 0 ? html`<span class="muted">0</span>` : html`<span class="pill ${colour}">${num(n)}</span>`}</td>`;

/** A run's status as a pill. */
const runPill = (run: FleetRun) => html`<span class="pill ${RUN_COLOUR[run.status] ?? 'grey'}" data-run-status="${run.status}">${run.status}</span>`;

/** A run as "up · failed · wave 2/4". */
function runLine(run: FleetRun | null) {
  if (run === null) return html`<span class="muted">no run yet</span>`;
  return html`<span class="mono">${run.command}</span> ${runPill(run)} <span class="small muted">wave ${run.currentWave}/${run.waves}</span>`;
}

/** The overview's card: every fleet environment with its counts (empty when the project has no fleet). */
export async function fleetsCard(ctx: ServeContext) {
  const names = fleetNames(ctx);
  if (names.length === 0) return html``;
  const rows = await Promise.all(names.map(async (name) => ({ name, ...(await orRefusal(() => fleetDocument(ctx, name))) })));
  return html`<div class="card" id="fleets"><h2>Fleets</h2>
<table id="fleet-list">
<thead><tr><th>fleet</th><th class="num">databases</th><th>at each migration</th><th class="num">failed</th><th class="num">drifted</th><th class="num">unreachable</th><th>latest run</th></tr></thead>
<tbody>${rows.map((r) =>
    r.doc === null
      ? html`<tr data-fleet="${r.name}"><td><a href="/fleets/${encodeURIComponent(r.name)}"><b>${r.name}</b></a></td><td colspan="6" class="c-red small" data-fleet-error>${r.error}</td></tr>`
      : html`<tr data-fleet="${r.name}">
  <td><a href="/fleets/${encodeURIComponent(r.name)}"><b>${r.name}</b></a><div class="small muted">ledger in ${r.doc.control}</div></td>
  <td class="num" data-count="total">${num(r.doc.summary.total)}</td>
  <td>${versionPills(r.doc.summary.byVersion)}</td>
  ${countCell(r.doc.summary.failed, 'red', 'failed')}${countCell(r.doc.summary.drifted, 'yellow', 'drifted')}${countCell(r.doc.summary.unreachable, 'red', 'unreachable')}
  <td>${runLine(r.doc.run)}</td>
</tr>`,
  )}</tbody>
</table></div>`;
}

/** One database's row. */
function databaseRow(d: FleetDatabase) {
  const err = lastError(d);
  return html`<tr data-target="${d.target}" data-rank="${rank(d)}">
  <td class="mono small" data-value="${d.target}">${d.target}</td>
  <td data-value="${d.version ?? ''}" class="mono small">${d.version ?? html`<span class="muted">none</span>`}${d.pending > 0 ? html`<div class="small muted">${d.pending} pending</div>` : ''}</td>
  <td data-value="${d.phase ?? ''}">${d.error === null ? phasePill(d.phase) : html`<span class="muted">—</span>`}</td>
  <td data-value="${d.ledger?.status ?? ''}">${d.ledger ? html`<span class="pill ${d.ledger.status === 'failed' ? 'red' : d.ledger.status === 'done' ? 'green' : 'blue'}">${d.ledger.status}</span>` : html`<span class="muted">—</span>`}</td>
  <td data-value="${d.drift.length}">${d.drift.length === 0 ? html`<span class="pill green">none</span>` : html`<span class="pill yellow">${d.drift.length} drift</span><div class="small muted">${d.drift.map((p) => html`<div>${p}</div>`)}</div>`}</td>
  <td data-value="${err ?? ''}" class="small${err ? ' c-red' : ''}" data-error>${err ?? html`<span class="muted">—</span>`}</td>
</tr>`;
}

/** The fleet page's body: the latest run, the counts with a bar of the databases without trouble, and every database. */
export function fleetBody(doc: FleetDocument) {
  const s = doc.summary;
  const fine = doc.databases.filter((d) => rank(d) === 2).length;
  const databases = doc.databases.map((d, i) => ({ d, i })).sort((a, b) => rank(a.d) - rank(b.d) || a.i - b.i);
  const run = doc.run;
  return html`<div class="toolbar"><h1>Fleet ${doc.fleet}</h1><span class="muted small">ledger in environment ${doc.control}</span></div>
<div class="card" id="fleet-run"><h2>Latest run</h2>${
    run === null
      ? html`<p class="muted">no run yet: <code>ferry up --env ${doc.fleet}</code> starts one</p>`
      : html`<dl class="kv">
  <div><dt>command</dt><dd class="mono">${run.command}</dd></div>
  <div><dt>status</dt><dd>${runPill(run)}</dd></div>
  <div><dt>wave</dt><dd data-wave>${run.currentWave}/${run.waves}</dd></div>
  <div><dt>failure budget</dt><dd>${run.failureBudget}</dd></div>
  <div><dt>started by</dt><dd class="small">${run.startedBy}</dd></div>
  <div><dt>started at</dt><dd class="small">${when(run.startedAt)}</dd></div>
  ${run.finishedAt ? html`<div><dt>finished at</dt><dd class="small">${when(run.finishedAt)}</dd></div>` : ''}
</dl><div class="small muted">run ${run.runId} · plan ${run.fingerprint}</div>`
  }</div>
<div class="card" id="fleet-summary"><h2>Summary</h2>
${progressBar(fine, s.total, fine === s.total ? 'done' : 'failed', true)}
<p class="small muted">${num(fine)} of ${num(s.total)} databases without failure or drift</p>
<dl class="kv">
  <div><dt>databases</dt><dd data-count="total">${num(s.total)}</dd></div>
  <div><dt>failed</dt><dd data-count="failed"${s.failed ? html` class="c-red"` : ''}>${num(s.failed)}</dd></div>
  <div><dt>drifted</dt><dd data-count="drifted"${s.drifted ? html` class="c-yellow"` : ''}>${num(s.drifted)}</dd></div>
  <div><dt>unreachable</dt><dd data-count="unreachable"${s.unreachable ? html` class="c-red"` : ''}>${num(s.unreachable)}</dd></div>
</dl>
<div>${versionPills(s.byVersion)}</div></div>
<div class="card"><h2>Databases</h2>
<table class="sortable" id="fleet-databases">
<thead><tr><th data-sort>database</th><th data-sort>version</th><th data-sort>phase</th><th data-sort>latest run</th><th data-sort data-type="num">drift</th><th data-sort>last error</th></tr></thead>
<tbody>${databases.map(({ d }) => databaseRow(d))}</tbody>
</table>${doc.databases.length === 0 ? html`<p class="empty-row muted">the fleet has no databases</p>` : ''}</div>`;
}

/** A page carrying a refusal's status, code and hint (an unknown fleet, a control database without ledger …). */
function problemPage(c: Context<ServeEnv>, err: FerryError) {
  const p = problemOf(err.code, err.message, { hint: err.hint });
  c.status(p.status as ContentfulStatusCode);
  return layout(c, {
    title: p.title,
    body: html`<div class="card"><h1>${p.title}</h1><p class="problem"><strong>${p.code}:</strong> ${p.detail}${p.hint ? html`<span class="hint">hint: ${p.hint}</span>` : ''}</p><p><a href="/">overview</a></p></div>`,
  });
}

/** Mount `/fleets/:name`. */
export function mountFleetPages(app: ServeApp): void {
  app.get('/fleets/:name', async (c) => {
    const name = c.req.param('name');
    try {
      const doc = await fleetDocument(c.get('ctx'), name);
      return await layout(c, { title: `Fleet ${name}`, crumbs: [[`fleet ${name}`, `/fleets/${encodeURIComponent(name)}`]], body: fleetBody(doc) });
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      return problemPage(c, err);
    }
  });
}
