import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Queryable } from '../db/database.js';
import { Exposition } from './exposition.js';
import { type Cohort, MetricsAggregate, type MetricsOptions, metricsSourceName, type Sample, writeMetrics } from './metrics.js';
import type { FlagState } from './snapshot.js';

/** What the recorder needs from the flags client it belongs to. */
export interface RecorderHost {
  /** The session to flush through, or undefined while disconnected. */
  db(): Queryable | undefined;
  /** The snapshot's flags and age, for the `/metrics` gauges. */
  flags(): FlagState[];
  snapshotAgeMs(): number;
  /** Report a failed flush (shown by `status().lastError`). */
  onError(err: unknown): void;
}

/**
 * The SDK's metrics: counts into the in-memory aggregate (and the Prometheus
 * series once `/metrics` is used), flushed to `ferry.metrics` on a timer. Nothing
 * here throws into the application.
 */
export class MetricsRecorder {
  private readonly aggregate: MetricsAggregate;
  private readonly source = metricsSourceName();
  private exposition: Exposition | undefined;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<boolean> = Promise.resolve(true);

  constructor(
    private readonly opts: MetricsOptions | false,
    private readonly host: RecorderHost,
  ) {
    this.aggregate = new MetricsAggregate((opts === false ? undefined : opts.bucketMs) ?? 10_000);
    if (opts !== false) {
      this.timer = setInterval(() => void this.flush(), opts.flushIntervalMs ?? 5000);
      this.timer.unref();
    }
  }

  /** Count one request; the hot path. `compat` carries a shadow comparison or a failed secondary write (`ferry/compat`). */
  count(key: string, cohort: Cohort, latencyMs: number, error: boolean, dataError: boolean, compat?: Sample): void {
    try {
      if (this.opts !== false) this.aggregate.add(key, cohort, latencyMs, error, dataError, compat);
      this.exposition?.observe(key, cohort, latencyMs, error, dataError, compat);
    } catch {
      // Counting must never fail the application's request.
    }
  }

  /** Flushes run one after another; resolves false (never rejects) when rows had to be kept for the next one. */
  flush(): Promise<boolean> {
    this.flushing = this.flushing.then(() => this.flushOnce());
    return this.flushing;
  }

  /** Stop the flush timer and write what is left. */
  async stop(): Promise<boolean> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return this.flush();
  }

  /** Show zero-valued Prometheus series for the snapshot's flags (once `/metrics` is in use). */
  zero(keys: readonly string[]): void {
    this.exposition?.zero(keys);
  }

  /** The Prometheus text format. */
  text(): Promise<string> {
    return this.expose().text();
  }

  /** A Node HTTP handler serving the text format. */
  handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.expose().handler();
  }

  private expose(): Exposition {
    if (!this.exposition) {
      this.exposition = new Exposition(
        () => this.host.flags(),
        () => this.host.snapshotAgeMs(),
      );
      this.exposition.zero(this.host.flags().map((f) => f.key));
    }
    return this.exposition;
  }

  private async flushOnce(): Promise<boolean> {
    const rows = this.aggregate.drain();
    if (rows.length === 0) return true;
    const oldest = Date.now() - ((this.opts === false ? undefined : this.opts.retainMs) ?? 600_000);
    const db = this.host.db();
    if (!db) {
      this.aggregate.restore(rows, oldest);
      return false;
    }
    const { unwritten, error } = await writeMetrics(db, rows, this.source).catch((e: unknown) => ({ unwritten: rows, error: e }));
    if (unwritten.length === 0) return true;
    this.host.onError(error);
    this.aggregate.restore(unwritten, oldest);
    return false;
  }
}
