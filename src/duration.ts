/**
 * Durations as ferry's manifests write them ("30s", "15min", "24h", "1h30m", "2d"). A leaf module:
 * the rollout schedule, the health settings and the compat library's deprecation timeline read the same syntax.
 */

const UNIT_MS: Readonly<Record<string, number>> = { s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 };
const DURATION = /^(?:\d+(?:s|min|m|h|d))+$/;

/** Parse a duration such as "24h", "30s", "15min", "1h30m" or "2d" into milliseconds; undefined when malformed or zero. */
export function parseHold(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/(\d+)(min|s|m|h|d)/g)) ms += Number(n) * (UNIT_MS[unit as string] as number);
  return ms > 0 ? ms : undefined;
}
