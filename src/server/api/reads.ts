import { createRoute, z } from '@hono/zod-openapi';
import { accepts } from 'hono/accepts';
import { DOCUMENT_KINDS } from '../../workflow/documents.js';
import type { ServeApp } from '../context.js';
import { jsonResponse as json, problemResponse as problem } from '../schemas.js';
import { eventsDocument, markdownDocument, migrationDocument, overviewDocument, statusDocument, verifyDocument } from './documents.js';
import { EventsSchema, MarkdownSchema, MigrationDetailSchema, MigrationIdParam, OverviewSchema, StatusSchema, VerifySchema } from './read-schemas.js';

// The read side of the JSON API: the overview, a migration's page, its log, its verify results and its
// documents, and `ferry status --json`. Reads need no token; each handler builds one document (documents.ts).

const BAD_INPUT = problem('invalid input (E_USAGE): a malformed migration id, an unknown document kind or query value');
const UNKNOWN = problem('no such migration (E_NOT_FOUND)');

const IdParams = z.object({ id: MigrationIdParam });

const overviewRoute = createRoute({
  method: 'get',
  path: '/api/v1/migrations',
  tags: ['migrations'],
  summary: 'Every migration as one row: phase and workflow ladder, type, strategy, risk, flag, health, backfill, verify, drift',
  request: {
    query: z.object({
      active: z
        .enum(['true', 'false'])
        .optional()
        .openapi({ description: 'true: only active migrations (not archived, not rolled back with nothing left applied)' }),
    }),
  },
  responses: { 200: json('the overview', OverviewSchema), 400: BAD_INPUT },
});

const detailRoute = createRoute({
  method: 'get',
  path: '/api/v1/migrations/{id}',
  tags: ['migrations'],
  summary: "A migration's page: overview row, status, timeline, and its steps with their SQL, rollback, verify and locks",
  request: { params: IdParams },
  responses: { 200: json('the migration', MigrationDetailSchema), 400: BAD_INPUT, 404: UNKNOWN },
});

const eventsRoute = createRoute({
  method: 'get',
  path: '/api/v1/migrations/{id}/events',
  tags: ['migrations'],
  summary: 'The event log of a migration, oldest first (ferry log <id> --json)',
  request: { params: IdParams },
  responses: { 200: json('the events', EventsSchema), 400: BAD_INPUT, 404: UNKNOWN },
});

const verifyRoute = createRoute({
  method: 'get',
  path: '/api/v1/migrations/{id}/verify',
  tags: ['migrations'],
  summary: 'The latest result of each declared check, with the differing keys and both values',
  request: { params: IdParams },
  responses: { 200: json('the verify results', VerifySchema), 400: BAD_INPUT, 404: UNKNOWN },
});

const documentRoute = createRoute({
  method: 'get',
  path: '/api/v1/migrations/{id}/documents/{kind}',
  tags: ['migrations'],
  summary: 'A rendered document (plan, rollback plan, report, retro): JSON, or the Markdown itself with Accept: text/markdown',
  request: {
    params: IdParams.extend({
      kind: z.enum(DOCUMENT_KINDS).openapi({ param: { name: 'kind', in: 'path' }, description: 'which document' }),
    }),
  },
  responses: {
    200: {
      description: 'the document (ferry <kind> <id> --json), or its Markdown',
      content: { 'application/json': { schema: MarkdownSchema }, 'text/markdown': { schema: z.string() } },
    },
    400: BAD_INPUT,
    404: UNKNOWN,
  },
});

const statusRoute = createRoute({
  method: 'get',
  path: '/api/v1/status',
  tags: ['status'],
  summary: 'Every current migration with its phase, steps, drift, backfills, checks and guidance (ferry status --json)',
  responses: { 200: json('the status', StatusSchema) },
});

/** Mount the read routes of the JSON API (all GET, no token needed). */
export function mountReadRoutes(app: ServeApp): void {
  app.openapi(overviewRoute, async (c) => {
    const { active } = c.req.valid('query');
    return c.json(await overviewDocument(c.get('ctx'), { active: active === 'true' }), 200);
  });
  app.openapi(detailRoute, async (c) => c.json(await migrationDocument(c.get('ctx'), c.req.valid('param').id), 200));
  app.openapi(eventsRoute, async (c) => c.json(await eventsDocument(c.get('ctx'), c.req.valid('param').id), 200));
  app.openapi(verifyRoute, async (c) => c.json(await verifyDocument(c.get('ctx'), c.req.valid('param').id), 200));
  app.openapi(documentRoute, async (c) => {
    const { id, kind } = c.req.valid('param');
    const doc = await markdownDocument(c.get('ctx'), id, kind);
    const type = accepts(c, { header: 'Accept', supports: ['application/json', 'text/markdown'], default: 'application/json' });
    if (type === 'text/markdown') return c.body(doc.markdown, 200, { 'Content-Type': 'text/markdown; charset=utf-8' });
    return c.json(doc, 200);
  });
  app.openapi(statusRoute, async (c) => c.json(await statusDocument(c.get('ctx')), 200));
}
