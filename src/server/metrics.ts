import { Gauge, Registry } from 'prom-client';
import { PHASES } from '../workflow/gate.js';
import { overviewDocument } from './api/documents.js';
import type { ServeApp, ServeContext } from './context.js';

const COLOUR_VALUE = { green: 0, yellow: 1, red: 2 } as const;

/** One scrape: a fresh registry filled from the overview, so a migration that left leaves no stale series. */
async function scrape(ctx: ServeContext): Promise<Registry> {
  const registry = new Registry();
  const gauge = (name: string, help: string, labelNames: string[]) => new Gauge({ name, help, labelNames, registers: [registry] });
  const phase = gauge('ferry_migration_phase', '1 for the phase the migration is in (one series per phase; planned: never applied)', ['migration', 'phase']);
  const step = gauge('ferry_migration_workflow_step', 'the workflow step (1–8) the migration is at; 0 when off the ladder (rolled back)', ['migration']);
  const info = gauge('ferry_migration_info', 'the migration’s type, strategy and inferred risk (value 1)', ['migration', 'type', 'strategy', 'risk']);
  const done = gauge('ferry_backfill_rows_done', 'rows the backfill step has walked', ['migration', 'step', 'state']);
  const total = gauge('ferry_backfill_rows_total', 'rows the backfill step has to walk', ['migration', 'step', 'state']);
  const pct = gauge('ferry_rollout_percentage', 'the percentage of units on the new path (0 when the flag is off)', ['migration', 'flag']);
  const health = gauge('ferry_health_colour', 'the rollout controller’s last health colour: 0 green, 1 yellow, 2 red (absent before any judgement)', [
    'migration',
  ]);
  const verifyFailed = gauge('ferry_verify_failed_checks', 'declared checks whose latest result failed', ['migration']);
  const dataErrors = gauge('ferry_verify_data_errors', 'distinct differing rows and failed assertions of the latest check results', ['migration']);
  const drift = gauge('ferry_migration_drift', 'drift problems of the migration (edits of applied steps, missing folders)', ['migration']);
  const active = gauge('ferry_migration_active', '1 while the migration is active (not archived, not rolled back to nothing)', ['migration']);
  const clients = gauge('ferry_serve_stream_clients', 'open live-update streams of this ferry serve', []);
  const overview = await overviewDocument(ctx);
  for (const m of overview.migrations) {
    const now = m.phase ?? 'planned';
    for (const p of ['planned', ...PHASES]) phase.set({ migration: m.id, phase: p }, p === now ? 1 : 0);
    step.set({ migration: m.id }, m.ladder.current ?? 0);
    info.set({ migration: m.id, type: m.type, strategy: m.strategy, risk: m.risk }, 1);
    for (const b of m.backfills) {
      done.set({ migration: m.id, step: b.stepId, state: b.state }, b.rowsDone);
      total.set({ migration: m.id, step: b.stepId, state: b.state }, b.rowsTotal);
    }
    if (m.flag) pct.set({ migration: m.id, flag: m.flag.key }, m.flag.effectivePercentage);
    if (m.health) health.set({ migration: m.id }, COLOUR_VALUE[m.health.colour as keyof typeof COLOUR_VALUE] ?? 0);
    verifyFailed.set({ migration: m.id }, m.verify.failed);
    dataErrors.set({ migration: m.id }, m.verify.dataErrors);
    drift.set({ migration: m.id }, m.drift);
    active.set({ migration: m.id }, m.active ? 1 : 0);
  }
  clients.set(ctx.hub.size);
  return registry;
}

/** `GET /metrics`: migration state for Prometheus — phase, backfill rows, rollout percentage, health colour, verify failures. */
export function mountMetrics(app: ServeApp): void {
  app.get('/metrics', async (c) => {
    const registry = await scrape(c.get('ctx'));
    return c.text(await registry.metrics(), 200, { 'Content-Type': registry.contentType });
  });
}
