import { FerryError } from '../errors.js';

/** A flag's setting: whether it is on, and for which share of units (0–100, to 0.01). */
export interface FlagValue {
  enabled: boolean;
  percentage: number;
}

const PERCENT = /^(\d{1,3})(\.\d{1,2})?%?$/;

/**
 * Parse a percentage typed by a person ("5", "12.5", "0.01", "5%") into a number
 * with at most two decimals; anything else (−1, 100.001, "abc", NaN) is E_USAGE.
 * `min` is the smallest value accepted (0 for flags, 0.01 for rollout stages).
 */
export function parsePercentage(text: string, min = 0): number {
  const t = text.trim();
  const m = PERCENT.exec(t);
  const n = m ? Number(t.replace(/%$/, '')) : Number.NaN;
  if (!m || !Number.isFinite(n) || n < min || n > 100) {
    throw new FerryError(
      'E_USAGE',
      `"${text}" is not a percentage from ${formatPercentage(min)} to 100 with at most two decimals`,
      'write it like 5, 12.5, 0.01 or 5%',
    );
  }
  return Math.round(n * 100) / 100;
}

/** Whether `n` is a percentage of at most two decimals in [min, 100]; for validating manifests. */
export function isPercentage(n: number, min = 0): boolean {
  return Number.isFinite(n) && n >= min && n <= 100 && Math.abs(n * 100 - Math.round(n * 100)) < 1e-9;
}

/** Parse the value of `ferry flag set`: `true` (on for everyone), `false` (off: the quick rollback) or a percentage. */
export function parseFlagValue(text: string): FlagValue {
  if (text === 'true') return { enabled: true, percentage: 100 };
  if (text === 'false') return { enabled: false, percentage: 0 };
  return { enabled: true, percentage: parsePercentage(text) };
}

/** "5 %", "12.5 %", "0.01 %". */
export function formatPercentage(n: number): string {
  return `${Number(n.toFixed(2))} %`;
}

/** The share of units a flag lets in: its percentage when enabled, else 0. */
export function effectivePercentage(v: FlagValue): number {
  return v.enabled ? v.percentage : 0;
}
