import { createRoute, type z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { FerryError } from '../../errors.js';
import { parseHold } from '../../rollout/index.js';
import { approve, checkRole } from '../../workflow/approve.js';
import { backfill, backfillStatus, backfillSteps, controlBackfills } from '../../workflow/backfill.js';
import { setFlag } from '../../workflow/flags.js';
import { advanceRolloutStage, resumePausedRollout, setRolloutPercentage } from '../../workflow/rollout.js';
import type { ServeApp, ServeContext, ServeEnv } from '../context.js';
import { ProblemError } from '../problem.js';
import { ProblemSchema } from '../schemas.js';
import {
  ApprovalsDocumentSchema,
  ApproveBody,
  ApproveResultSchema,
  BackfillActionBody,
  BackfillActionResultSchema,
  BackfillDocumentSchema,
  HealthDocumentSchema,
  HealthQuery,
  KillResultSchema,
  MigrationParams,
  ReasonBody,
  RolloutAdvanceBody,
  RolloutDocumentSchema,
  RolloutMoveSchema,
  RolloutSetBody,
} from './action-schemas.js';
import { approvalsDocument, backfillDocument, backfillJob, backfillJobKey, healthDocument, rolloutDocument } from './live-documents.js';

// A migration's backfill, rollout, health and approvals: the reads the dashboard's sections show, and every
// action they offer. Each action calls the library function its CLI command calls, with the same options
// (the signed-in actor, the workspace's lock wait and run options), so it leaves the same event in the log.

const json = <S extends z.ZodType>(schema: S, description: string) => ({ description, content: { 'application/json': { schema } } });
const problemOf = (description: string) => ({ description, content: { 'application/problem+json': { schema: ProblemSchema } } });
const READ_ERRORS = { 400: problemOf('invalid input'), 404: problemOf('no such migration (E_NOT_FOUND)') } as const;
const ACTION_ERRORS = {
  ...READ_ERRORS,
  403: problemOf('no token, or not from the dashboard (E_FORBIDDEN)'),
  409: problemOf('refused by a gate, or locked by another runner (E_GATE, E_LOCKED …)'),
  413: problemOf('body larger than 64 KiB'),
  415: problemOf('body not application/json'),
} as const;
const SECURITY = [{ bearer: [] }, { session: [] }];

/** A POST action on migration `{id}` with a strict JSON body (`required` when a field of it is). */
function actionRoute<B extends z.ZodType, R extends z.ZodType>(path: string, summary: string, body: B, result: R, required = false) {
  return createRoute({
    method: 'post',
    path: `/api/v1/migrations/{id}/${path}`,
    summary,
    security: SECURITY,
    request: { params: MigrationParams, body: { content: { 'application/json': { schema: body } }, required } },
    responses: { 200: json(result, 'done'), ...ACTION_ERRORS },
  });
}

/** Who acts: always set for a change (the security middleware refuses one without the token). */
function actorOf(c: Context<ServeEnv>): string {
  const actor = c.get('actor');
  if (actor === null) throw new ProblemError('E_FORBIDDEN', 'this action needs ferry serve’s token', 'sign in on the dashboard, or send it as a bearer token');
  return actor;
}

/** The body, or `{}` when none was sent (every field of these bodies is optional). */
const orEmpty = <T extends object>(body: T | undefined): T => body ?? ({} as T);

/**
 * Run `m`'s backfill in this process, in the background, as `ferry backfill <id>` does (on the embedded
 * database no other process can). Resolves false when one started from the dashboard already runs.
 */
async function startBackfillJob(ctx: ServeContext, id: string, actor: string, stepId: string | undefined): Promise<boolean> {
  const m = await ctx.migration(id);
  backfillSteps(m, stepId);
  const { ws } = ctx;
  const run = {
    ...ws.run,
    actor,
    ...(stepId === undefined ? {} : { stepId }),
    workerId: `${actor} pid ${process.pid} (ferry serve)`,
    requireApproval: ws.conn.requireApproval,
    lockWaitMs: ws.lockWaitMs,
    envNote: `in environment ${ws.conn.env}`,
  };
  const migrations = await ctx.migrations();
  return ctx.jobs.start(backfillJobKey(m.id), () => ctx.withOwnDb((db) => backfill(db, migrations, m, run)));
}

function mountBackfillRoutes(app: ServeApp): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/migrations/{id}/backfill',
      summary: "A migration's backfill: progress per step, batch history, rows/s, ETA, workers, and the dashboard's job",
      request: { params: MigrationParams },
      responses: { 200: json(BackfillDocumentSchema, 'the backfill'), ...READ_ERRORS },
    }),
    async (c) => c.json(await backfillDocument(c.get('ctx'), c.req.valid('param').id), 200),
  );
  for (const action of ['pause', 'cancel'] as const) {
    app.openapi(actionRoute(`backfill/${action}`, `${action} the backfill between batches`, BackfillActionBody, BackfillActionResultSchema), async (c) => {
      const ctx = c.get('ctx');
      const { step } = orEmpty(c.req.valid('json'));
      const m = await ctx.migration(c.req.valid('param').id);
      backfillSteps(m, step);
      const actor = actorOf(c);
      const progress = await ctx.withDb(async (db) => {
        await controlBackfills(db, m, action, { ...(step === undefined ? {} : { stepId: step }), actor });
        return backfillStatus(db, m, step);
      });
      return c.json({ action, progress, job: backfillJob(ctx, m.id) }, 200);
    });
  }
  app.openapi(
    actionRoute('backfill/resume', 'Clear a pause or cancel, and continue the backfill in the server', BackfillActionBody, BackfillActionResultSchema),
    async (c) => {
      const ctx = c.get('ctx');
      const { step } = orEmpty(c.req.valid('json'));
      const m = await ctx.migration(c.req.valid('param').id);
      backfillSteps(m, step);
      const actor = actorOf(c);
      await ctx.withDb((db) => controlBackfills(db, m, 'resume', { ...(step === undefined ? {} : { stepId: step }), actor }));
      // As `ferry backfill --resume`: continue here (nobody works on a paused backfill); a job already running carries on.
      await startBackfillJob(ctx, m.id, actor, step);
      const progress = await ctx.withDb((db) => backfillStatus(db, m, step));
      return c.json({ action: 'resume' as const, progress, job: backfillJob(ctx, m.id) }, 200);
    },
  );
  app.openapi(
    actionRoute(
      'backfill/start',
      'Run the backfill in the server, in the background (as `ferry backfill <id>`)',
      BackfillActionBody,
      BackfillActionResultSchema,
    ),
    async (c) => {
      const ctx = c.get('ctx');
      const { step } = orEmpty(c.req.valid('json'));
      const id = c.req.valid('param').id;
      const m = await ctx.migration(id);
      if (!(await startBackfillJob(ctx, m.id, actorOf(c), step)))
        throw new FerryError('E_LOCKED', `a backfill of ${m.id} started from the dashboard is already running`, 'pause or cancel it, or wait for it to finish');
      const progress = await ctx.withDb((db) => backfillStatus(db, m, step));
      return c.json({ action: 'start' as const, progress, job: backfillJob(ctx, m.id) }, 200);
    },
  );
}

function mountRolloutRoutes(app: ServeApp): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/migrations/{id}/rollout',
      summary: "A migration's rollout: the stage ladder, current stage, hold countdown, next gate, pause and controller",
      request: { params: MigrationParams },
      responses: { 200: json(RolloutDocumentSchema, 'the rollout'), ...READ_ERRORS },
    }),
    async (c) => c.json(await rolloutDocument(c.get('ctx'), c.req.valid('param').id), 200),
  );
  app.openapi(
    actionRoute('rollout/advance', 'Advance to the next stage once the hold elapsed (now: earlier, with a reason)', RolloutAdvanceBody, RolloutMoveSchema),
    async (c) => {
      const ctx = c.get('ctx');
      const body = orEmpty(c.req.valid('json'));
      const m = await ctx.migration(c.req.valid('param').id);
      if (body.now && !body.reason) throw new FerryError('E_USAGE', 'advance now needs a reason', 'say why the hold is cut short; it goes into the log');
      const now = body.now && body.reason ? { now: { reason: body.reason } } : {};
      const move = await ctx.withDb((db) => advanceRolloutStage(db, m, { actor: actorOf(c), lockWaitMs: ctx.ws.lockWaitMs, ...now }));
      return c.json(move, 200);
    },
  );
  app.openapi(actionRoute('rollout/resume', 'Accept a paused rollout and continue', ReasonBody, RolloutMoveSchema), async (c) => {
    const ctx = c.get('ctx');
    const { reason } = orEmpty(c.req.valid('json'));
    const m = await ctx.migration(c.req.valid('param').id);
    const move = await ctx.withDb((db) => resumePausedRollout(db, m, { actor: actorOf(c), lockWaitMs: ctx.ws.lockWaitMs, ...(reason ? { reason } : {}) }));
    return c.json(move, 200);
  });
  app.openapi(
    actionRoute('rollout/set', 'Set the rollout percentage (past the next stage, or early: now with a reason)', RolloutSetBody, RolloutMoveSchema, true),
    async (c) => {
      const ctx = c.get('ctx');
      const body = c.req.valid('json');
      const m = await ctx.migration(c.req.valid('param').id);
      if (body.now && !body.reason) throw new FerryError('E_USAGE', 'set now needs a reason', 'say why stages or holds are skipped; it goes into the log');
      const how = body.now && body.reason ? { now: { reason: body.reason } } : body.reason ? { reason: body.reason } : {};
      const move = await ctx.withDb((db) => setRolloutPercentage(db, m, body.percentage, { actor: actorOf(c), lockWaitMs: ctx.ws.lockWaitMs, ...how }));
      return c.json(move, 200);
    },
  );
  app.openapi(
    actionRoute('rollout/kill', 'The kill switch: the flag off for everyone (`ferry flag set KEY false`)', ReasonBody, KillResultSchema),
    async (c) => {
      const ctx = c.get('ctx');
      const { reason } = orEmpty(c.req.valid('json'));
      const m = await ctx.migration(c.req.valid('param').id);
      const flag = m.manifest.flag;
      if (!flag) throw new FerryError('E_GATE', `migration ${m.id} names no flag, so there is nothing to switch off`, 'add "flag": "<key>" to its manifest');
      const value = { enabled: false, percentage: 0 };
      const migrations = await ctx.migrations();
      const change = await ctx.withDb((db) =>
        setFlag(db, migrations, flag, value, { actor: actorOf(c), lockWaitMs: ctx.ws.lockWaitMs, ...(reason ? { reason } : {}) }),
      );
      return c.json({ flag, ...value, change }, 200);
    },
  );
}

function mountHealthAndApprovals(app: ServeApp): void {
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/migrations/{id}/health',
      summary: 'The decision matrix (new cohort vs old), the decision, and error rate / p99 per cohort over time',
      request: { params: MigrationParams, query: HealthQuery },
      responses: {
        200: json(HealthDocumentSchema, 'the health'),
        ...READ_ERRORS,
        409: problemOf('the migration names no flag (E_GATE)'),
        503: problemOf('the Prometheus source cannot be reached'),
      },
    }),
    async (c) => {
      const q = c.req.valid('query');
      const windowMs = q.window === undefined ? undefined : parseHold(q.window);
      if (q.window !== undefined && windowMs === undefined)
        throw new FerryError('E_USAGE', `window "${q.window}" is not a duration`, 'write it like 30s, 5min or 1h');
      const opts = { ...(windowMs === undefined ? {} : { windowMs }), ...(q.points === undefined ? {} : { points: q.points }) };
      return c.json(await healthDocument(c.get('ctx'), c.req.valid('param').id, opts), 200);
    },
  );
  app.openapi(
    createRoute({
      method: 'get',
      path: '/api/v1/migrations/{id}/approvals',
      summary: "The plan's approving roles and who approved the migration as its files are now",
      request: { params: MigrationParams },
      responses: { 200: json(ApprovalsDocumentSchema, 'the approvals'), ...READ_ERRORS },
    }),
    async (c) => c.json(await approvalsDocument(c.get('ctx'), c.req.valid('param').id), 200),
  );
  app.openapi(
    createRoute({
      method: 'post',
      path: '/api/v1/migrations/{id}/approvals',
      summary: 'Approve the migration as one role of its plan (as `ferry approve <id> --as ROLE`)',
      security: SECURITY,
      request: { params: MigrationParams, body: { content: { 'application/json': { schema: ApproveBody } }, required: true } },
      responses: { 200: json(ApproveResultSchema, 'approved'), ...ACTION_ERRORS },
    }),
    async (c) => {
      const ctx = c.get('ctx');
      const body = c.req.valid('json');
      const m = await ctx.migration(c.req.valid('param').id);
      checkRole(m, body.role);
      const result = await ctx.withDb((db) =>
        approve(db, m, { role: body.role, actor: actorOf(c), lockWaitMs: ctx.ws.lockWaitMs, ...(body.reason ? { reason: body.reason } : {}) }),
      );
      return c.json(result, 200);
    },
  );
}

/** Mount the backfill, rollout, health and approvals routes of a migration: reads, then actions. */
export function mountActionRoutes(app: ServeApp): void {
  mountBackfillRoutes(app);
  mountRolloutRoutes(app);
  mountHealthAndApprovals(app);
}
