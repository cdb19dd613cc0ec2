import type { WaveConfig } from '../project/config.js';

/** The default waves: one canary database, then 5, 25, 50 and 100 % of the fleet done. */
export const DEFAULT_WAVES: readonly WaveConfig[] = [{ count: 1 }, { percent: 5 }, { percent: 25 }, { percent: 50 }, { percent: 100 }];

/**
 * Cut `ids` into waves, canaries first (in their order), the others in the order given: a `count` wave takes that
 * many more, a `percent` wave takes the fleet up to that share done (rounded up). Empty waves are dropped; what the
 * last wave leaves goes into one more. Every id is in exactly one wave, and no wave is empty.
 */
export function planWaves(ids: readonly string[], canaries: readonly string[], waves: readonly WaveConfig[]): string[][] {
  const canarySet = new Set(canaries);
  const order = [...canaries.filter((c) => ids.includes(c)), ...ids.filter((id) => !canarySet.has(id))];
  const n = order.length;
  const out: string[][] = [];
  let end = 0;
  for (const w of waves) {
    const next = Math.min(n, 'count' in w ? end + w.count : Math.max(end, Math.ceil((w.percent * n) / 100)));
    if (next > end) out.push(order.slice(end, next));
    end = next;
  }
  if (end < n) out.push(order.slice(end));
  return out;
}

/** The waves of `down`: the last wave first, each in reverse, so the canaries are reached last. */
export function reverseWaves(waves: readonly (readonly string[])[]): string[][] {
  return waves.map((w) => [...w].reverse()).reverse();
}
