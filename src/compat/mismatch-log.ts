import { inspect } from 'node:util';
import type { Queryable } from '../db/database.js';
import { type Cohort, metricsSourceName } from '../sdk/metrics.js';
import type { CompatRuntime, FlushPart } from './runtime.js';

/** One shadow read that differed, kept in a bounded sample (and flushed to `ferry.shadow_mismatches`). */
export interface MismatchSample {
  flag: string;
  cohort: Cohort;
  unit: string;
  control: unknown;
  candidate: unknown;
  at: Date;
}

/** A value is stored as JSON up to this many characters; longer (or not serialisable) as a truncated string. */
export const MISMATCH_VALUE_LIMIT = 4096;

/** Rows of `ferry.shadow_mismatches` kept per flag: each flush trims older ones. */
export const MISMATCH_ROWS_PER_FLAG = 200;

/** Differing values kept per flag when the client does not say. */
const DEFAULT_SAMPLES = 20;

/**
 * `value` as the JSON text stored in a jsonb column: its JSON when it has one of at most
 * {@link MISMATCH_VALUE_LIMIT} characters, else a JSON string of its (inspected) text cut to that length;
 * null (SQL NULL) for `undefined`.
 */
export function storedJson(value: unknown): string | null {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    text = undefined;
  }
  if (text === undefined) {
    if (value === undefined) return null;
    text = inspect(value, { depth: 4, breakLength: Number.POSITIVE_INFINITY });
    return JSON.stringify(text.length > MISMATCH_VALUE_LIMIT ? `${text.slice(0, MISMATCH_VALUE_LIMIT)}…` : text);
  }
  return text.length > MISMATCH_VALUE_LIMIT ? JSON.stringify(`${text.slice(0, MISMATCH_VALUE_LIMIT)}…`) : text;
}

interface Pending {
  sample: MismatchSample;
  control: string | null;
  candidate: string | null;
}

/**
 * The bounded sample of differing values of one compat client: at most `limit` per flag in memory (newest
 * last), and the ones not yet written, at most `limit` per flag, for the next flush. Each flush writes
 * them to `ferry.shadow_mismatches` and trims that table to the newest {@link MISMATCH_ROWS_PER_FLAG} per flag.
 */
export class MismatchLog implements FlushPart {
  private readonly kept = new Map<string, MismatchSample[]>();
  private unwritten = new Map<string, Pending[]>();
  private readonly source = metricsSourceName();

  constructor(private readonly limit: number) {}

  /** Keep one mismatch (its values are serialised now, so later changes by the application do not show). */
  add(sample: MismatchSample): void {
    if (this.limit <= 0) return;
    push(this.kept, sample.flag, sample, this.limit);
    push(this.unwritten, sample.flag, { sample, control: storedJson(sample.control), candidate: storedJson(sample.candidate) }, this.limit);
  }

  /** The samples in memory, newest last; of `flag` when given (else every flag's, oldest first). */
  recent(flag?: string): MismatchSample[] {
    if (flag !== undefined) return [...(this.kept.get(flag) ?? [])];
    return [...this.kept.values()].flat().sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  pending(): boolean {
    return this.unwritten.size > 0;
  }

  async flush(db: Queryable): Promise<boolean> {
    const batch = this.unwritten;
    if (batch.size === 0) return true;
    this.unwritten = new Map();
    const rows = [...batch.values()].flat();
    const params: unknown[] = [];
    const values = rows.map((r) => {
      const at = params.length;
      params.push(r.sample.flag, r.sample.cohort, r.sample.unit, r.control, r.candidate, this.source, r.sample.at.toISOString());
      const p = (i: number) => `$${at + i}`;
      return `(${p(1)}, ${p(2)}, ${p(3)}, ${p(4)}::jsonb, ${p(5)}::jsonb, ${p(6)}, ${p(7)}::timestamptz)`;
    });
    try {
      await db.query(`INSERT INTO ferry.shadow_mismatches (flag_key, cohort, unit_id, control, candidate, source, at) VALUES ${values.join(', ')}`, params);
    } catch {
      // Keep them (still bounded) for the next flush, before anything that arrived meanwhile.
      for (const [flag, list] of batch) this.unwritten.set(flag, [...list, ...(this.unwritten.get(flag) ?? [])].slice(-this.limit));
      return false;
    }
    try {
      await db.query(
        `DELETE FROM ferry.shadow_mismatches s
          USING (SELECT id, row_number() OVER (PARTITION BY flag_key ORDER BY id DESC) AS n
                   FROM ferry.shadow_mismatches WHERE flag_key = ANY($1::text[])) old
          WHERE s.id = old.id AND old.n > $2`,
        [[...batch.keys()], MISMATCH_ROWS_PER_FLAG],
      );
    } catch {
      // Trimming is housekeeping: the next flush trims again.
    }
    return true;
  }
}

function push<T>(map: Map<string, T[]>, key: string, item: T, limit: number): void {
  let list = map.get(key);
  if (!list) {
    list = [];
    map.set(key, list);
  }
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

const logs = new WeakMap<CompatRuntime, MismatchLog>();

/** The mismatch log of `rt`'s client, made and registered for flushing on first use. */
export function mismatchLogOf(rt: CompatRuntime): MismatchLog {
  let log = logs.get(rt);
  if (!log) {
    const limit = rt.mismatchSamples ?? DEFAULT_SAMPLES;
    log = new MismatchLog(limit);
    logs.set(rt, log);
    rt.register(log);
  }
  return log;
}

/** The mismatch log of `rt`'s client if it has one yet. */
export function existingMismatchLog(rt: CompatRuntime): MismatchLog | undefined {
  return logs.get(rt);
}
