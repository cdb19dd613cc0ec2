import { z } from 'zod';

/** A health colour: green promotes, yellow pauses, red rolls back; `no-data` is too little traffic to judge, never green. */
export type Colour = 'green' | 'yellow' | 'red' | 'no-data';

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
}

/** The workflow's defaults. */
export const DEFAULT_THRESHOLDS: Thresholds = {
  errorRate: { yellow: 0.001, red: 0.01 },
  latencyP99Increase: { yellow: 0.1, red: 0.5 },
  dataErrors: { yellow: 1, red: 5 },
  minRequests: 100,
};

const band = z
  .strictObject({
    yellow: z.number().min(0).describe('Yellow from this value on (green below it).'),
    red: z.number().min(0).describe('Red above this value; at least `yellow`.'),
  })
  .refine((b) => b.yellow <= b.red, 'yellow must not exceed red');

/** A manifest's `health.thresholds`: any subset of the defaults to override. */
export const thresholdsSchema = z.strictObject({
  errorRate: band.optional().describe('Error rate of the new cohort, as a fraction; default yellow 0.001 (0.1 %), red 0.01 (1 %).'),
  latencyP99Increase: band
    .optional()
    .describe("p99 latency of the new cohort over the old cohort's, as a fraction; default yellow 0.1 (+10 %), red 0.5 (+50 %)."),
  dataErrors: band.optional().describe('Data errors (failed shadow comparisons and verification differences); default yellow 1, red 5.'),
  minRequests: z.number().int().min(1).optional().describe('Fewer requests than this in a cohort\'s window is "no data"; default 100.'),
});

/** The defaults with a manifest's overrides applied. */
export function thresholdsOf(overrides: z.output<typeof thresholdsSchema> | undefined): Thresholds {
  return { ...DEFAULT_THRESHOLDS, ...Object.fromEntries(Object.entries(overrides ?? {}).filter(([, v]) => v !== undefined)) };
}
