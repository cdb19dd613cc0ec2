import { z } from 'zod';

/** A health colour: green promotes, yellow pauses, red rolls back; `no-data` is too little traffic to judge, never green. */
export type Colour = 'green' | 'yellow' | 'red' | 'no-data';

/** The colour of `x` in a band: green below `yellow`, yellow up to and including `red`, red above. */
export function bandColour(x: number, band: { yellow: number; red: number }): Colour {
  if (x < band.yellow) return 'green';
  return x <= band.red ? 'yellow' : 'red';
}

/** A band over a ratio to the baseline, whose baseline counts as at least `floor` (so 1 → 2 sessions is not ×2). */
export interface RatioBand {
  yellow: number;
  red: number;
  floor: number;
}

/**
 * The resource row's thresholds: each signal of the server's load against its
 * baseline (the readings from before the stage began).
 */
export interface ResourceThresholds {
  /** Sessions running a statement, as a ratio to the baseline: green < ×1.5, yellow ≤ ×2, red above; the baseline counts as at least 4. */
  activeSessions: RatioBand;
  /** Sessions waiting for a lock, above the baseline: green < +1, yellow ≤ +5, red above. */
  lockWaiters: { yellow: number; red: number };
  /** Replicas' replay lag in seconds, above the baseline: green < +10 s, yellow ≤ +60 s, red above; skipped without replicas. */
  replayLagSeconds: { yellow: number; red: number };
  /** WAL written per second, as a ratio to the baseline: green < ×2, yellow ≤ ×4, red above; the baseline counts as at least 4 MiB/s. */
  walRate: RatioBand;
}

/**
 * The decision matrix's thresholds (DESIGN.md, "Defaults that come from the
 * workflow"): each metric is green below `yellow`, yellow from `yellow` up to and
 * including `red`, red above `red`.
 */
export interface Thresholds {
  /** Error rate of the new cohort, as a fraction: green < 0.001 (0.1 %), yellow ≤ 0.01 (1 %), red above. */
  errorRate: { yellow: number; red: number };
  /** p99 latency of the new cohort over the old cohort's, as a fraction: green < +0.10, yellow ≤ +0.50, red above. */
  latencyP99Increase: { yellow: number; red: number };
  /** Data errors (failed shadow comparisons and verification differences): green 0, yellow 1–5, red above 5. */
  dataErrors: { yellow: number; red: number };
  /** Fewer requests than this in a cohort's window is "no data". */
  minRequests: number;
  /** The resource row ("resource usage acceptable"): the server's load against its baseline. */
  resources: ResourceThresholds;
}

/** The workflow's defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  errorRate: { yellow: 0.001, red: 0.01 },
  latencyP99Increase: { yellow: 0.1, red: 0.5 },
  dataErrors: { yellow: 1, red: 5 },
  minRequests: 100,
  resources: {
    activeSessions: { yellow: 1.5, red: 2, floor: 4 },
    lockWaiters: { yellow: 1, red: 5 },
    replayLagSeconds: { yellow: 10, red: 60 },
    walRate: { yellow: 2, red: 4, floor: 4 * 1024 * 1024 },
  },
};

const notAbove = (b: { yellow: number; red: number }) => b.yellow <= b.red;

const band = z
  .strictObject({
    yellow: z.number().min(0).describe('Yellow from this value on (green below it).'),
    red: z.number().min(0).describe('Red above this value; at least `yellow`.'),
  })
  .refine(notAbove, 'yellow must not exceed red');

// A ratio below 1 would colour the baseline itself, so ratios start at 1.
const ratioBand = (floor: string) =>
  z
    .strictObject({
      yellow: z.number().min(1).describe('Yellow from this ratio to the baseline on (green below it); at least 1.'),
      red: z.number().min(1).describe('Red above this ratio; at least `yellow`.'),
      floor: z.number().min(0).optional().describe(floor),
    })
    .refine(notAbove, 'yellow must not exceed red');

const resourceThresholdsSchema = z.strictObject({
  activeSessions: ratioBand('The baseline counts as at least this many sessions; default 4.')
    .optional()
    .describe("Sessions running a statement (ferry's own left out), as a ratio to the baseline; default yellow 1.5, red 2, floor 4."),
  lockWaiters: band.optional().describe('Sessions waiting for a lock, above the baseline (mean per reading); default yellow 1, red 5.'),
  replayLagSeconds: band.optional().describe("Replicas' replay lag in seconds, above the baseline; default yellow 10, red 60; skipped without replicas."),
  walRate: ratioBand('The baseline counts as at least this many bytes per second; default 4194304 (4 MiB/s).')
    .optional()
    .describe('WAL written per second, as a ratio to the baseline; default yellow 2, red 4, floor 4 MiB/s.'),
});

/** A manifest's `health.thresholds`: any subset of the defaults to override. */
export const thresholdsSchema = z.strictObject({
  errorRate: band.optional().describe('Error rate of the new cohort, as a fraction; default yellow 0.001 (0.1 %), red 0.01 (1 %).'),
  latencyP99Increase: band
    .optional()
    .describe("p99 latency of the new cohort over the old cohort's, as a fraction; default yellow 0.1 (+10 %), red 0.5 (+50 %)."),
  dataErrors: band.optional().describe('Data errors (failed shadow comparisons and verification differences); default yellow 1, red 5.'),
  minRequests: z.number().int().min(1).optional().describe('Fewer requests than this in a cohort\'s window is "no data"; default 100.'),
  resources: resourceThresholdsSchema
    .optional()
    .describe("The resource row: the server's load while the stage runs against the readings from before it began; any subset of the signals."),
});

/** Only the fields that are set, so spreading them keeps the defaults of the rest. */
const given = <T extends object>(o: T | undefined): { [K in keyof T]?: Exclude<T[K], undefined> } =>
  Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as { [K in keyof T]?: Exclude<T[K], undefined> };

/** The defaults with a manifest's overrides applied (a resource signal's omitted `floor` keeps its default). */
export function thresholdsOf(overrides: z.output<typeof thresholdsSchema> | undefined): Thresholds {
  const r = overrides?.resources;
  const d = DEFAULT_THRESHOLDS.resources;
  return {
    ...DEFAULT_THRESHOLDS,
    ...given(overrides),
    resources: {
      activeSessions: { ...d.activeSessions, ...given(r?.activeSessions) },
      lockWaiters: { ...d.lockWaiters, ...given(r?.lockWaiters) },
      replayLagSeconds: { ...d.replayLagSeconds, ...given(r?.replayLagSeconds) },
      walRate: { ...d.walRate, ...given(r?.walRate) },
    },
  };
}
