import { describe, expect, it } from 'vitest';
import { FerryError } from '../../src/errors.js';
import {
  DEFAULT_THRESHOLDS,
  decide,
  evaluateMatrix,
  explain,
  type MetricVerdict,
  type ResourceSample,
  resourceRow,
  resourceSignals,
  thresholdsOf,
} from '../../src/health/index.js';
import type { CohortFigures } from '../../src/health/source.js';
import { migrationsOf } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';

const T = DEFAULT_THRESHOLDS.resources;
const MiB = 1024 * 1024;
/** A reading every second from `atS`; the WAL advances `walPerS` bytes a second from `walAt0`. */
const readings = (atS: number, n: number, figures: Partial<ResourceSample>, walPerS: number, walAt0: number): ResourceSample[] =>
  Array.from({ length: n }, (_, i) => ({
    atMs: (atS + i) * 1000,
    activeSessions: null,
    lockWaiters: null,
    replayLagSeconds: null,
    ...figures,
    walBytes: walAt0 + walPerS * (atS + i),
  }));
// The stage begins at 10 s; its baseline is 5–10 s, the window 10–15 s.
const before = { fromMs: 5000, toMs: 10_000, endInclusive: false };
const during = { fromMs: 10_000, toMs: 15_000, endInclusive: true };
const judge = (b: Partial<ResourceSample>, d: Partial<ResourceSample>, walBefore = MiB, walDuring = MiB, t = T) =>
  resourceSignals([...readings(5, 5, b, walBefore, 0), ...readings(10, 6, d, walDuring, 9 * (walBefore - walDuring))], during, before, t, 5000);
const signal = (signals: ReturnType<typeof judge>, name: string) => signals.find((s) => s.signal === name);

const figures = (requests: number, errorRate: number, p99Ms: number): CohortFigures => ({ requests, errorRate, p99Ms, dataErrors: 0 });
function matrixWith(resources: MetricVerdict) {
  return evaluateMatrix({
    migrationId: 'm',
    flag: 'f',
    source: 'sdk',
    percentage: 5,
    window: { from: new Date(10_000), to: new Date(15_000) },
    baselineWindow: null,
    canary: figures(1000, 0, 100),
    baseline: figures(10_000, 0, 100),
    dataErrors: 0,
    thresholds: DEFAULT_THRESHOLDS,
    resources,
  });
}
const running = { paused: false, holdElapsed: true, acknowledged: false, lastStage: false };

describe('the resource row of the decision matrix', () => {
  it('active sessions against the baseline: ×1.5 yellow, above ×2 red, the baseline counted as at least the floor', () => {
    const yellow = signal(judge({ activeSessions: 6 }, { activeSessions: 12 }), 'activeSessions');
    expect(yellow).toMatchObject({ value: 12, baseline: 6, compared: 2, colour: 'yellow' });
    expect(yellow?.note).toBe('active sessions 12 vs 6 before the stage: ×2 ≥ ×1.5');
    expect(signal(judge({ activeSessions: 6 }, { activeSessions: 13 }), 'activeSessions')).toMatchObject({ colour: 'red' });
    // 1 → 2 sessions is not ×2: the baseline counts as 4.
    const few = signal(judge({ activeSessions: 1 }, { activeSessions: 2 }), 'activeSessions');
    expect(few).toMatchObject({ compared: 0.5, colour: 'green' });
    expect(few?.note).toContain('counted as 4');
  });

  it('lock waiters and replay lag above the baseline; without replicas the lag is skipped, not red', () => {
    const s = judge({ lockWaiters: 1, replayLagSeconds: 2 }, { lockWaiters: 8, replayLagSeconds: 5 });
    expect(signal(s, 'lockWaiters')).toMatchObject({ compared: 7, colour: 'red' });
    expect(signal(s, 'replayLag')).toMatchObject({ compared: 3, colour: 'green' });
    const noReplicas = signal(judge({ lockWaiters: 0 }, { lockWaiters: 0 }), 'replayLag');
    expect(noReplicas).toMatchObject({ value: null, colour: 'no-data' });
    expect(noReplicas?.note).toBe('replay lag: no replicas, skipped');
  });

  it('the WAL rate is computed between consecutive readings and compared with the rate before the stage', () => {
    const wal = signal(judge({}, {}, 8 * MiB, 20 * MiB), 'walRate');
    expect(wal?.baseline).toBeCloseTo(8 * MiB);
    expect(wal?.value).toBeCloseTo(20 * MiB);
    expect(wal).toMatchObject({ colour: 'yellow' });
    expect(wal?.note).toBe('WAL 20 MiB/s vs 8 MiB/s before the stage: ×2.5 ≥ ×2');
  });

  it('no reading from before the stage: no data with the reason, never green', () => {
    const s = resourceSignals(readings(10, 3, { activeSessions: 3, lockWaiters: 0 }, MiB, 0), during, before, T, 5000);
    expect(s.every((x) => x.colour === 'no-data')).toBe(true);
    expect(signal(s, 'activeSessions')?.note).toBe('active sessions 3: no baseline from before the stage began');
    expect(resourceRow(s, T, '').colour).toBe('no-data');
  });

  it('a row without measurements does not count: SDK metrics alone can still go green (PGlite)', () => {
    const m = matrixWith(resourceRow([], T, 'not measured: PGlite is one embedded session'));
    expect(m.colour).toBe('green');
    expect(m.metrics.map((v) => [v.metric, v.colour])).toContainEqual(['resources', 'no-data']);
    expect(decide(m, running).action).toBe('promote');
    expect(explain(m)).not.toContain('resource');
  });

  it('red resources pause (degraded, not severe) and yellow pauses; neither rolls back', () => {
    const red = matrixWith(resourceRow(judge({ lockWaiters: 0 }, { lockWaiters: 9 }), T, ''));
    expect(red.colour).toBe('red');
    const d = decide(red, running);
    expect(d).toMatchObject({ action: 'pause', down: false });
    expect(d.reason).toContain('resource usage red: lock waiters 9 vs 0 before the stage: +9 > +5');
    const yellow = matrixWith(resourceRow(judge({ activeSessions: 6 }, { activeSessions: 11 }), T, ''));
    expect(yellow.colour).toBe('yellow');
    expect(decide(yellow, running).action).toBe('pause');
    expect(yellow.metrics.find((v) => v.metric === 'resources')).toMatchObject({ value: 11, baseline: 6, threshold: { yellow: 1.5, red: 2 } });
  });

  it('thresholds from the manifest are honoured; an omitted floor keeps the default', () => {
    const t = thresholdsOf({ resources: { activeSessions: { yellow: 3, red: 5 }, walRate: { yellow: 10, red: 20, floor: 0 } } });
    expect(t.resources).toEqual({ ...T, activeSessions: { yellow: 3, red: 5, floor: 4 }, walRate: { yellow: 10, red: 20, floor: 0 } });
    expect(signal(judge({ activeSessions: 6 }, { activeSessions: 12 }, MiB, MiB, t.resources), 'activeSessions')?.colour).toBe('green');
    expect(thresholdsOf(undefined).resources).toEqual(T);
  });

  it('bad resource thresholds in a manifest are a clear E_MANIFEST error', async () => {
    const p = createProject({ kind: 'pglite', dataDir: '/nonexistent', open: () => Promise.reject(new Error('not opened')) });
    p.migration('0001_bad', [{ id: 'a', up: 'SELECT 1;' }], {
      flag: 'f',
      health: { thresholds: { resources: { activeSessions: { yellow: 3, red: 2 }, walRate: { yellow: 0.5, red: 2 }, cpu: { yellow: 1, red: 2 } } } },
    });
    const err = await migrationsOf(p).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryError);
    const message = (err as FerryError).message;
    expect((err as FerryError).code).toBe('E_MANIFEST');
    expect(message).toMatch(/health\.thresholds\.resources\.activeSessions: yellow must not exceed red/);
    expect(message).toMatch(/health\.thresholds\.resources\.walRate\.yellow: .*>=1/);
    expect(message).toMatch(/health\.thresholds\.resources: Unrecognized key: "cpu"/);
  });
});
