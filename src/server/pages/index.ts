import { html } from 'hono/html';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { FerryError } from '../../errors.js';
import { overviewDocument } from '../api/documents.js';
import type { ServeApp } from '../context.js';
import { problemOf } from '../problem.js';
import { mountAssets } from './assets.js';
import { fleetsCard, mountFleetPages } from './fleet.js';
import { island, layout } from './layout.js';
import { migrationBody, SECTIONS } from './migration.js';
import { overviewBody, overviewTable } from './overview.js';
import { signInBody } from './signin.js';

/**
 * The dashboard: `/` (overview, with the fleets), `/migrations/:id` (a migration's page), `/fleets/:name`, `/signin`, the live islands'
 * fragments under `/fragments/` and the packaged assets under `/assets/`. Pages only read, rendering the
 * JSON API's documents; every action is a `fetch` from the page script to the API, which checks the
 * token (the session cookie) and the Origin.
 */
export function mountPages(app: ServeApp): void {
  mountAssets(app);
  const overview = async (ctx: Parameters<typeof overviewDocument>[0]) => overviewTable((await overviewDocument(ctx)).migrations);
  app.get('/', async (c) => {
    const ctx = c.get('ctx');
    const [migrations, fleets] = await Promise.all([overviewBody(island('overview-island', '/fragments/overview', ['*'], overview(ctx))), fleetsCard(ctx)]);
    return layout(c, { title: 'Migrations', body: html`${migrations}${fleets}` });
  });
  app.get('/fragments/overview', async (c) => c.html(await overview(c.get('ctx'))));
  mountFleetPages(app);
  app.get('/signin', (c) => layout(c, { title: 'Sign in', body: signInBody(c) }));
  app.get('/migrations/:id', async (c) => {
    try {
      const m = await c.get('ctx').migration(c.req.param('id'));
      return await layout(c, { title: m.manifest.title, crumbs: [[m.id, `/migrations/${encodeURIComponent(m.id)}`]], body: migrationBody(c, m.id) });
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      // A person typed or followed a link: answer with a page, carrying the problem's status, code and hint.
      const p = problemOf(err.code, err.message, { hint: err.hint });
      c.status(p.status as ContentfulStatusCode);
      return layout(c, {
        title: p.title,
        body: html`<div class="card"><h1>${p.title}</h1><p class="problem"><strong>${p.code}:</strong> ${p.detail}${p.hint ? html`<span class="hint">hint: ${p.hint}</span>` : ''}</p><p><a href="/">all migrations</a></p></div>`,
      });
    }
  });
  app.get('/fragments/migrations/:id/:section', async (c) => {
    const m = await c.get('ctx').migration(c.req.param('id'));
    const name = c.req.param('section');
    const section = Object.hasOwn(SECTIONS, name) ? SECTIONS[name] : undefined;
    if (!section) return c.html(html`<p class="c-red">no such section: ${name}</p>`, 404);
    return c.html(await section.render(c, m.id));
  });
}
