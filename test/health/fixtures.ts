import { afterAll } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { assessHealth, type HealthTarget, healthSettingsOf, readController, SdkMetricSource } from '../../src/health/index.js';
import { createFlags, type Flags } from '../../src/sdk/index.js';
import { readEvents } from '../../src/state/store.js';
import { createServerDatabase, type TestTarget } from '../helpers/databases.js';
import { createProject, runFerryJson, type TestProject } from '../helpers/project.js';

/** Undone last-first after the file: services stop before their databases are dropped. */
export const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => {});
});

/** A fresh server database, and an admin session on it. */
export async function serverTarget(): Promise<{ target: TestTarget; url: string; db: Database }> {
  const created = await createServerDatabase('ferry_h');
  cleanups.push(created.drop);
  const db = await openServer({ url: created.url });
  cleanups.push(() => db.close());
  return { target: { kind: 'server', url: created.url, open: () => openServer({ url: created.url }) }, url: created.url, db };
}

/** The health settings the controller tests use: evaluate every second, a 3 s window, 30 requests per cohort to judge. */
/**
 * The test server is shared by the suite's files running in parallel: its WAL rate (a server-wide signal of the
 * resource row) is their work, not this rollout's. Tests that are not about it judge it never yellow.
 */
export const SHARED_SERVER_RESOURCES = { walRate: { yellow: 1000, red: 1000 } } as const;

export const FAST_HEALTH = { interval: '1s', window: '3s', thresholds: { minRequests: 30, resources: SHARED_SERVER_RESOURCES } } as const;

/** A migration `0001_checkout` with flag `checkout.v2`, two steps (`a` creates t1, `b` creates t2), the given holds and health settings. */
export function healthProject(
  target: TestTarget,
  opts: { holds?: string[]; health?: Record<string, unknown>; pointOfNoReturn?: string | null } = {},
): { p: TestProject; id: string; flag: string } {
  const p = createProject(target);
  const holds = opts.holds ?? ['1s', '1s', '1s', '1s', '1s'];
  const stages = [5, 25, 50, 75, 100].map((percent, i) => ({ percent, hold: holds[i] ?? '1s' }));
  const flag = 'checkout.v2';
  const id = p.migration(
    '0001_checkout',
    [
      { id: 'a', up: 'CREATE TABLE t1 (id int);', down: 'DROP TABLE t1;' },
      { id: 'b', up: 'CREATE TABLE t2 (id int);', down: 'DROP TABLE t2;' },
    ],
    { flag, rollout: { stages }, health: opts.health ?? FAST_HEALTH, pointOfNoReturn: opts.pointOfNoReturn ?? null },
  );
  return { p, id, flag };
}

/** What the simulated service does for each cohort. */
export interface Profile {
  /** Multiplier of the latency (10–19 ms, cycling) for the new cohort; 1 by default. */
  newLatencyFactor?: number;
  /** Every n-th request of the new cohort fails (20 → 5 %); 0: none. */
  newErrorEvery?: number;
  /** Every n-th request of the new cohort reports a shadow-comparison mismatch; 0: none. */
  newDataErrorEvery?: number;
  /** Requests per 25 ms tick; default 40 (1,600/s, so 5 % is about 80/s). */
  perTick?: number;
}

/** A simulated service: the real SDK, measuring a code path per unit with `record`, as fast as a tick allows. */
export interface Service {
  flags: Flags;
  sent: { new: number; old: number; newErrors: number };
  setProfile(p: Profile): void;
  stop(): Promise<void>;
}

/** Start a service on `url` that sends traffic for `flag` until stopped. Latencies are synthetic (no sleeping), so results never depend on the machine's speed. */
export async function startService(url: string, flag: string, profile: Profile = {}): Promise<Service> {
  const flags = createFlags({ url }, { heartbeatMs: 500, metrics: { flushIntervalMs: 200, bucketMs: 1000 } });
  await flags.ready();
  let p = profile;
  let i = 0;
  const sent = { new: 0, old: 0, newErrors: 0 };
  const timer = setInterval(() => {
    for (let k = 0; k < (p.perTick ?? 40); k++) {
      const unit = `user-${i++ % 5000}`;
      const base = 10 + (i % 10);
      if (flags.isEnabled(flag, unit)) {
        sent.new++;
        const error = (p.newErrorEvery ?? 0) > 0 && sent.new % (p.newErrorEvery as number) === 0;
        if (error) sent.newErrors++;
        const dataError = (p.newDataErrorEvery ?? 0) > 0 && sent.new % (p.newDataErrorEvery as number) === 0;
        flags.record(flag, unit, { latencyMs: base * (p.newLatencyFactor ?? 1), error, dataError });
      } else {
        sent.old++;
        flags.record(flag, unit, { latencyMs: base });
      }
    }
  }, 25);
  const stop = async () => {
    clearInterval(timer);
    await flags.close();
  };
  cleanups.push(stop);
  const setProfile = (next: Profile) => {
    p = next;
  };
  return { flags, sent, setProfile, stop };
}

/** The matrix the controller would see now (same settings, SDK source), for tests that wait for a colour. */
export async function currentMatrix(db: Database, id: string, flag: string, health: Record<string, unknown> = FAST_HEALTH) {
  const t: HealthTarget = { id, flag, settings: healthSettingsOf(health as never) };
  return assessHealth(db, t, new SdkMetricSource(db), { checkDataErrors: 0 });
}

/** The migration's phase and its rollout percentage, from the database. */
export async function where(
  db: Database,
  id: string,
): Promise<{ phase: string | undefined; percentage: number | undefined; stageStartedAt: string | undefined }> {
  const { rows } = await db.query<{ phase: string; percentage: string | null; stage_started_at: string | null }>(
    `SELECT m.phase, r.percentage::text AS percentage, r.stage_started_at::text AS stage_started_at
       FROM ferry.migrations m LEFT JOIN ferry.rollouts r ON r.migration_id = m.id WHERE m.id = $1`,
    [id],
  );
  const r = rows[0];
  return { phase: r?.phase, percentage: r?.percentage == null ? undefined : Number(r.percentage), stageStartedAt: r?.stage_started_at ?? undefined };
}

/** Evaluations the controller has recorded. */
export async function evaluations(db: Database, id: string): Promise<number> {
  return (await readController(db, id))?.evaluations ?? 0;
}

/** The controller's decision events (kind `health`), oldest first. */
export async function decisions(db: Database, id: string): Promise<{ reason: string; details: Record<string, unknown> }[]> {
  return (await readEvents(db, id))
    .filter((e) => e.kind === 'health')
    .map((e) => ({ reason: e.reason ?? '', details: (typeof e.details === 'string' ? JSON.parse(e.details) : e.details) as Record<string, unknown> }));
}

/** `ferry up` in the project (approval not required on the server test environment). */
export async function up(p: TestProject): Promise<void> {
  const r = await runFerryJson(p.root, ['up']);
  if (r.code !== 0) throw new Error(`ferry up failed: ${r.stdout}\n${r.stderr}`);
}
