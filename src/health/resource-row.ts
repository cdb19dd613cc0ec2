import { bandColour, type Colour, type RatioBand, type ResourceThresholds } from './thresholds.js';

/** One stored reading of the server's load (`ferry.resource_samples`); null where it could not be seen. */
export interface ResourceSample {
  /** When it was taken, by the database's clock (epoch ms). */
  atMs: number;
  activeSessions: number | null;
  lockWaiters: number | null;
  replayLagSeconds: number | null;
  /** The WAL position as a byte count. */
  walBytes: number | null;
}

/** The signals of the resource row. */
export type SignalName = 'activeSessions' | 'lockWaiters' | 'replayLag' | 'walRate';

/** One signal of the resource row: the stage's mean, the baseline's, what the band applies to, and why. */
export interface ResourceSignal {
  signal: SignalName;
  /** Mean over the window's readings (WAL: bytes per second); null when not measured. */
  value: number | null;
  /** The same over the readings from before the stage began; null without any. */
  baseline: number | null;
  /** Ratio to the baseline (sessions, WAL) or the excess over it (lock waiters, replay lag). */
  compared: number | null;
  threshold: { yellow: number; red: number };
  /** `no-data` when not measured or without a baseline: skipped, never green. */
  colour: Colour;
  note: string;
}

/** A span of readings: from inclusive, to inclusive (the current window) or exclusive (the baseline, which ends as the stage begins). */
export interface SampleSpan {
  fromMs: number;
  toMs: number;
  endInclusive: boolean;
}

const inSpan = (at: number, s: SampleSpan) => at >= s.fromMs && (s.endInclusive ? at <= s.toMs : at < s.toMs);

function mean(samples: readonly ResourceSample[], pick: (s: ResourceSample) => number | null): number | null {
  const xs = samples.map(pick).filter((x): x is number => x !== null);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null;
}

/**
 * WAL bytes per second over the consecutive readings whose later one lies in
 * `span` and whose gap is at most `maxGapMs` (a controller stopped for a day does
 * not average a day into the window); a position that went back (failover) is skipped.
 */
export function walRateIn(ordered: readonly ResourceSample[], span: SampleSpan, maxGapMs: number): number | null {
  let bytes = 0;
  let ms = 0;
  for (let i = 1; i < ordered.length; i++) {
    const [a, b] = [ordered[i - 1] as ResourceSample, ordered[i] as ResourceSample];
    if (!inSpan(b.atMs, span) || a.walBytes === null || b.walBytes === null) continue;
    const gap = b.atMs - a.atMs;
    if (gap <= 0 || gap > maxGapMs || b.walBytes < a.walBytes) continue;
    bytes += b.walBytes - a.walBytes;
    ms += gap;
  }
  return ms > 0 ? (bytes * 1000) / ms : null;
}

const num = (x: number) => String(Number(x.toFixed(1)));
const rate = (bytesPerSecond: number) => {
  const units = ['B/s', 'KiB/s', 'MiB/s', 'GiB/s'];
  let x = bytesPerSecond;
  let u = 0;
  while (x >= 1024 && u < units.length - 1) {
    x /= 1024;
    u++;
  }
  return `${num(x)} ${units[u]}`;
};
const seconds = (x: number) => `${num(x)} s`;

/** How a signal reads: its name, its unit, and whether it is a ratio to the baseline or an excess over it. */
const SIGNALS: Record<SignalName, { name: string; unit: (x: number) => string; ratio: boolean }> = {
  activeSessions: { name: 'active sessions', unit: num, ratio: true },
  lockWaiters: { name: 'lock waiters', unit: num, ratio: false },
  replayLag: { name: 'replay lag', unit: seconds, ratio: false },
  walRate: { name: 'WAL', unit: rate, ratio: true },
};

/** A signal's figure in its unit ("12", "3.5 MiB/s", "12 s"), for faces that print the row. */
export const signalFigure = (signal: SignalName, x: number | null): string => (x === null ? '—' : SIGNALS[signal].unit(x));
/** A signal's compared value ("×2.03", "+6"). */
export const signalCompared = (signal: SignalName, x: number | null): string =>
  x === null ? '—' : SIGNALS[signal].ratio ? `×${Number(x.toFixed(2))}` : `${x >= 0 ? '+' : ''}${SIGNALS[signal].unit(x)}`;
/** A signal's name for people. */
export const signalName = (signal: SignalName): string => SIGNALS[signal].name;

/** Judge one signal; `skip` says why it is not measured (no readings, no replicas). */
export function judgeSignal(
  signal: SignalName,
  value: number | null,
  baseline: number | null,
  band: { yellow: number; red: number } | RatioBand,
  skip: string,
): ResourceSignal {
  const { name, unit, ratio } = SIGNALS[signal];
  const threshold = { yellow: band.yellow, red: band.red };
  const base = { signal, value, baseline, threshold };
  if (value === null) return { ...base, compared: null, colour: 'no-data', note: `${name}: ${skip}` };
  if (baseline === null) return { ...base, compared: null, colour: 'no-data', note: `${name} ${unit(value)}: no baseline from before the stage began` };
  const floor = 'floor' in band && baseline < band.floor ? band.floor : undefined;
  const compared = ratio ? value / (floor ?? baseline) : value - baseline;
  const colour = bandColour(compared, threshold);
  const bound =
    colour === 'green'
      ? `< ${signalCompared(signal, band.yellow)}`
      : colour === 'yellow'
        ? `≥ ${signalCompared(signal, band.yellow)}`
        : `> ${signalCompared(signal, band.red)}`;
  const counted = floor === undefined ? '' : ` (counted as ${unit(floor)})`;
  return {
    ...base,
    compared,
    colour,
    note: `${name} ${unit(value)} vs ${unit(baseline)} before the stage${counted}: ${signalCompared(signal, compared)} ${bound}`,
  };
}

/** The four signals of a window against the baseline's readings. */
export function resourceSignals(
  ordered: readonly ResourceSample[],
  current: SampleSpan,
  baseline: SampleSpan | null,
  t: ResourceThresholds,
  windowMs: number,
): ResourceSignal[] {
  const now = ordered.filter((s) => inSpan(s.atMs, current));
  const before = baseline ? ordered.filter((s) => inSpan(s.atMs, baseline)) : [];
  const pair = (pick: (s: ResourceSample) => number | null) => [mean(now, pick), mean(before, pick)] as const;
  const [sessions, sessionsBefore] = pair((s) => s.activeSessions);
  const [waiters, waitersBefore] = pair((s) => s.lockWaiters);
  const [lag, lagBefore] = pair((s) => s.replayLagSeconds);
  const wal = walRateIn(ordered, current, windowMs);
  const walBefore = baseline ? walRateIn(ordered, baseline, windowMs) : null;
  const unseen = 'not visible to this role';
  return [
    judgeSignal('activeSessions', sessions, sessionsBefore, t.activeSessions, unseen),
    judgeSignal('lockWaiters', waiters, waitersBefore, t.lockWaiters, unseen),
    judgeSignal('replayLag', lag, lagBefore, t.replayLagSeconds, 'no replicas, skipped'),
    judgeSignal('walRate', wal, walBefore, t.walRate, 'needs two readings in the window'),
  ];
}
