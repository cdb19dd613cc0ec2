import { createHash } from 'node:crypto';
import type { Queryable } from '../../db/database.js';
import type { FlushPart } from '../runtime.js';
import { type ApiRequest, type ConsumerExtractor, headerOf } from './request.js';

/**
 * Who calls which version of an API: the consumer extractors (a header, the user agent, an API key), and the
 * per-process counts of calls per version and consumer that every process adds up in `ferry.api_consumers`
 * (`ferry consumers <id>` lists them; cleanup is refused while an old version still has callers).
 */

/** The consumer of a request no extractor could name. */
export const ANONYMOUS = 'anonymous';

/** Consumer names are cut to this many characters (the manifest's `allow` names are at most 200). */
const MAX_NAME = 200;

/** A consumer named by header `name` (e.g. `X-Api-Consumer: billing`). */
export function byHeader(name: string): ConsumerExtractor {
  const lower = name.toLowerCase();
  return (req) => headerOf(req, lower)?.trim().slice(0, MAX_NAME) || undefined;
}

const PRODUCT = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)/;

/** A consumer named by the first product of its `User-Agent`, without the version: `partner-sdk/2.1 node/22` → `partner-sdk`. */
export function byUserAgent(): ConsumerExtractor {
  return (req) => {
    const ua = headerOf(req, 'user-agent');
    return ua === undefined ? undefined : PRODUCT.exec(ua)?.[1]?.slice(0, MAX_NAME);
  };
}

/** The fingerprint an unknown API key is counted under: `key:` and the first 12 hex digits of its SHA-256; never the key. */
export function keyFingerprint(key: string): string {
  return `key:${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/**
 * A consumer named by its API key in header `header` (`Authorization: Bearer <key>` loses its scheme): a key of
 * `names` counts under its name, any other key under {@link keyFingerprint}. The raw key is never kept as a name.
 */
export function byApiKey(header: string, names: Readonly<Record<string, string>> = {}): ConsumerExtractor {
  const lower = header.toLowerCase();
  const known = new Map(Object.entries(names));
  const seen = new Map<string, string>();
  return (req) => {
    let key = headerOf(req, lower)?.trim();
    if (key === undefined || key === '') return undefined;
    if (lower === 'authorization') {
      const space = key.indexOf(' ');
      if (space > 0) key = key.slice(space + 1).trim();
    }
    const name = known.get(key);
    if (name !== undefined) return name.slice(0, MAX_NAME);
    let fp = seen.get(key);
    if (fp === undefined) {
      // A bounded memo of fingerprints: hashing every call of a busy key would cost more than the rest of the middleware.
      if (seen.size >= 1000) seen.clear();
      fp = keyFingerprint(key);
      seen.set(key, fp);
    }
    return fp;
  };
}

/** The first name any of `extractors` gives. */
export function byFirstOf(...extractors: ConsumerExtractor[]): ConsumerExtractor {
  return (req) => {
    for (const e of extractors) {
      const name = e(req);
      if (name !== undefined && name !== '') return name;
    }
    return undefined;
  };
}

/** The default: the `X-Api-Consumer` header, else the user agent's first product; `anonymous` when neither. */
export const defaultConsumer: ConsumerExtractor = byFirstOf(byHeader('X-Api-Consumer'), byUserAgent());

/** The consumer of `req` by `extract`, `anonymous` when it names none or throws. */
export function consumerOf(extract: ConsumerExtractor, req: ApiRequest): string {
  try {
    const name = extract(req);
    return name === undefined || name === '' ? ANONYMOUS : name.length > MAX_NAME ? name.slice(0, MAX_NAME) : name;
  } catch {
    return ANONYMOUS;
  }
}

/** Calls of one consumer to one version since the last flush. */
interface Tally {
  calls: number;
  first: number;
  last: number;
}

/** Distinct consumers kept per version between two flushes; more are counted under `(other)`. */
const MAX_CONSUMERS = 10_000;
const OTHER = '(other)';
/** Rows per INSERT. */
const CHUNK = 500;

/**
 * The calls of one API per version and consumer, counted in memory and added to `ferry.api_consumers` by each
 * flush (`calls + EXCLUDED.calls`, the earliest `first_seen`, the latest `last_seen`), so the counts of every
 * process add up. A failed flush keeps what it could not write for the next one.
 */
export class ConsumerCounts implements FlushPart {
  private tallies: Map<string, Tally>[];

  constructor(
    private readonly api: string,
    private readonly versions: readonly string[],
  ) {
    this.tallies = versions.map(() => new Map());
  }

  /** Count one call of `consumer` to the version at `index`, at `atMs`. */
  count(index: number, consumer: string, atMs: number): void {
    const byConsumer = this.tallies[index] as Map<string, Tally>;
    const t = byConsumer.get(consumer);
    if (t === undefined) {
      if (byConsumer.size >= MAX_CONSUMERS && consumer !== OTHER) {
        this.count(index, OTHER, atMs);
        return;
      }
      byConsumer.set(consumer, { calls: 1, first: atMs, last: atMs });
      return;
    }
    t.calls++;
    if (atMs > t.last) t.last = atMs;
    if (atMs < t.first) t.first = atMs;
  }

  /** The counts not yet written, per version and consumer (for tests and diagnostics). */
  snapshot(): { version: string; consumer: string; calls: number; firstSeen: Date; lastSeen: Date }[] {
    return this.tallies.flatMap((m, i) =>
      [...m].map(([consumer, t]) => ({
        version: this.versions[i] as string,
        consumer,
        calls: t.calls,
        firstSeen: new Date(t.first),
        lastSeen: new Date(t.last),
      })),
    );
  }

  pending(): boolean {
    return this.tallies.some((m) => m.size > 0);
  }

  async flush(db: Queryable): Promise<boolean> {
    const taken = this.tallies;
    this.tallies = this.versions.map(() => new Map());
    const rows = taken.flatMap((m, i) => [...m].map(([consumer, t]) => ({ index: i, consumer, t })));
    for (let from = 0; from < rows.length; from += CHUNK) {
      const chunk = rows.slice(from, from + CHUNK);
      const params: unknown[] = [];
      const values = chunk.map((r) => {
        const at = params.length;
        params.push(this.api, this.versions[r.index], r.consumer, r.t.calls, new Date(r.t.first).toISOString(), new Date(r.t.last).toISOString());
        return `($${at + 1}, $${at + 2}, $${at + 3}, $${at + 4}::bigint, $${at + 5}::timestamptz, $${at + 6}::timestamptz)`;
      });
      try {
        await db.query(
          `INSERT INTO ferry.api_consumers AS c (api, version, consumer, calls, first_seen, last_seen)
           VALUES ${values.join(', ')}
           ON CONFLICT (api, version, consumer) DO UPDATE
              SET calls = c.calls + EXCLUDED.calls,
                  first_seen = least(c.first_seen, EXCLUDED.first_seen),
                  last_seen = greatest(c.last_seen, EXCLUDED.last_seen)`,
          params,
        );
      } catch {
        for (const r of rows.slice(from)) this.keep(r.index, r.consumer, r.t);
        return false;
      }
    }
    return true;
  }

  /** Put back a tally a flush could not write, merged with what was counted meanwhile. */
  private keep(index: number, consumer: string, t: Tally): void {
    const byConsumer = this.tallies[index] as Map<string, Tally>;
    const now = byConsumer.get(consumer);
    if (now === undefined) byConsumer.set(consumer, t);
    else {
      now.calls += t.calls;
      now.first = Math.min(now.first, t.first);
      now.last = Math.max(now.last, t.last);
    }
  }
}
