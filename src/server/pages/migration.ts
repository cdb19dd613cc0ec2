import type { Context } from 'hono';
import { html } from 'hono/html';
import { eventsDocument, type MigrationDocument, markdownDocument, migrationDocument, verifyDocument } from '../api/documents.js';
import { approvalsDocument, backfillDocument, healthDocument, rolloutDocument } from '../api/live-documents.js';
import type { ServeEnv } from '../context.js';
import { orRefusal } from './data.js';
import { island } from './layout.js';
import { ladder, phasePill, prose } from './parts.js';
import { approvalsSection } from './sections/approvals.js';
import { backfillSection } from './sections/backfill.js';
import { documentSection, isDocumentKind, SHOWN_DOCUMENTS } from './sections/documents.js';
import { healthSection } from './sections/health.js';
import { rolloutSection } from './sections/rollout.js';
import { stepsSection } from './sections/steps.js';
import { timelineSection } from './sections/timeline.js';
import { verifySection } from './sections/verify.js';

type Rendered = ReturnType<typeof html>;

/** One live part of a migration's page: its heading, the state tables whose changes refresh it, and how to render it. */
interface Section {
  title: string;
  topics: readonly string[];
  render(c: Context<ServeEnv>, id: string): Promise<Rendered>;
}

const detailCache = new WeakMap<Context, Promise<MigrationDocument>>();
/** The migration document, built once per request (the summary and the steps both show it). */
function detail(c: Context<ServeEnv>, id: string): Promise<MigrationDocument> {
  let d = detailCache.get(c);
  if (!d) {
    d = migrationDocument(c.get('ctx'), id);
    detailCache.set(c, d);
  }
  return d;
}

const documentKind = (c: Context<ServeEnv>) => {
  const kind = c.req.query('kind') ?? 'plan';
  return isDocumentKind(kind) ? kind : 'plan';
};

/** The page's sections: each is a live island with a fragment route; all but the summary are anchors in the tab bar. */
export const SECTIONS: Readonly<Record<string, Section>> = {
  summary: {
    title: 'Summary',
    topics: ['migrations', 'events', 'applied_steps', 'rollouts', 'flags', 'controllers'],
    render: async (c, id) => summary(await detail(c, id)),
  },
  backfill: {
    title: 'Backfill',
    topics: ['backfills', 'backfill_ranges', 'backfill_batches', 'events'],
    render: async (c, id) => {
      // A migration without a backfill step has no backfill document (E_NOT_FOUND): say so in its place.
      const b = await orRefusal(() => backfillDocument(c.get('ctx'), id));
      return b.doc ? backfillSection(c, b.doc) : html`<p class="muted">${b.error}</p>`;
    },
  },
  rollout: {
    title: 'Rollout',
    topics: ['rollouts', 'flags', 'controllers', 'events', 'migrations'],
    render: async (c, id) => rolloutSection(c, await rolloutDocument(c.get('ctx'), id)),
  },
  health: {
    title: 'Health',
    topics: ['metrics', 'rollouts', 'flags', 'controllers', 'verify_results'],
    render: async (c, id) => {
      const h = await orRefusal(() => healthDocument(c.get('ctx'), id));
      return healthSection(h.doc, h.error);
    },
  },
  verify: { title: 'Verify', topics: ['verify_results'], render: async (c, id) => verifySection(await verifyDocument(c.get('ctx'), id)) },
  timeline: { title: 'Timeline', topics: ['events'], render: async (c, id) => timelineSection(await eventsDocument(c.get('ctx'), id)) },
  approvals: {
    title: 'Approvals',
    topics: ['approvals', 'migrations'],
    render: async (c, id) => approvalsSection(c, c.get('ctx'), await approvalsDocument(c.get('ctx'), id)),
  },
  steps: { title: 'Steps', topics: ['applied_steps', 'migrations'], render: async (c, id) => stepsSection(await detail(c, id)) },
  documents: {
    title: 'Documents',
    topics: ['events', 'applied_steps', 'verify_results', 'approvals', 'rollouts', 'backfills', 'migrations'],
    render: async (c, id) => documentSection(await markdownDocument(c.get('ctx'), id, documentKind(c))),
  },
};

/** The fragment route of a section (documents: one per kind). */
export const fragmentPath = (id: string, section: string, kind?: string) =>
  `/fragments/migrations/${encodeURIComponent(id)}/${section}${kind ? `?kind=${kind}` : ''}`;

function summary(d: MigrationDocument) {
  const r = d.migration;
  const g = d.status.guidance;
  return html`<div class="summary">
  <p>${phasePill(r.phase)} <span class="muted">· ${r.type} · ${r.strategy} · risk ${r.risk}${r.flag ? html` · flag <span class="mono">${r.flag.key}</span>` : ''} · ${r.steps.applied} of ${r.steps.total} steps applied${
    r.drift ? html` · <span class="c-red">${r.drift} drift</span>` : ''
  }</span></p>
  ${ladder(r.ladder, r.phase, true)}
  <p class="small"><b>now:</b> ${prose(g.now)}</p>
  <p class="small"><b>applications:</b> ${prose(g.apps)}</p>
  <p class="small"><b>next gate:</b> ${prose(g.nextGate.replaceAll('<id>', r.id))}</p>
</div>`;
}

const TABS = ['backfill', 'rollout', 'health', 'verify', 'timeline', 'approvals', 'steps', 'documents'] as const;

/** A migration's page: title, the live summary, a tab bar of anchors, and each section as a live island. */
export async function migrationBody(c: Context<ServeEnv>, id: string) {
  const d = await detail(c, id);
  const part = async (name: string) => {
    const s = SECTIONS[name] as Section;
    return island(`${name}-island`, fragmentPath(id, name), s.topics, await s.render(c, id));
  };
  const card = async (name: string) => html`<section class="card" id="${name}"><h2>${(SECTIONS[name] as Section).title}</h2>${await part(name)}</section>`;
  const docs = await Promise.all(
    SHOWN_DOCUMENTS.map(async ([kind, label], i) => {
      const content = documentSection(await markdownDocument(c.get('ctx'), id, kind));
      const topics = (SECTIONS.documents as Section).topics;
      return html`<details class="document"${i === 0 ? ' open' : ''}><summary><b>${label}</b></summary>${island(`document-${kind}`, fragmentPath(id, 'documents', kind), topics, content)}</details>`;
    }),
  );
  const cards = [];
  for (const name of TABS.slice(0, 4)) cards.push(await card(name));
  return html`<h1>${d.migration.title}</h1>
<p class="lede"><span class="mono">${id}</span></p>
<div class="card">${await part('summary')}</div>
<nav class="tabs">${TABS.map((n) => html`<a href="#${n}">${(SECTIONS[n] as Section).title}</a>`)}</nav>
${cards}
<div class="grid2">${await card('timeline')}${await card('approvals')}</div>
${await card('steps')}
<section class="card" id="documents"><h2>Documents</h2><p class="small muted">Rendered from the same Markdown as <code>ferry plan</code>, <code>ferry rollback-plan</code> and <code>ferry report</code>.</p>${docs}</section>`;
}
