import type { CompatRuntime } from '../runtime.js';
import { adaptRequest, adaptResponse } from './adapt.js';
import { ConsumerCounts, consumerOf } from './consumers.js';
import { deprecatedAt, deprecationHeaders } from './headers.js';
import { type ApiProblem, goneProblem, PROBLEM_TYPE, type SelectionHints, unknownVersionProblem } from './problem.js';
import { type ApiRequest, type ConsumerExtractor, pathOf } from './request.js';
import { type SelectedBy, VersionSelector } from './select.js';
import { type ApiSpec, type DeprecationState, deprecationState, type VersionTimeline, versionTimeline } from './spec.js';
import type { VersionAdapter } from './types.js';

/** A response header as the middleware sets it. */
export type ApiHeader = readonly [name: string, value: string];

/** What the handler of a versioned API learns about its call (`req.ferryApi`, `request.ferryApi`, `c.get('ferryApi')`). */
export interface ApiCall {
  /** The API's name. */
  readonly api: string;
  /** The version the caller asked for (and gets: its request body was converted up, its response body is converted down). */
  readonly version: string;
  /** The newest version, which the handler is written against. */
  readonly current: string;
  /** How the request named its version. */
  readonly by: SelectedBy;
  /** Who called, as the consumer extractor names it. */
  readonly consumer: string;
  /** Where the version stands on its deprecation timeline for this consumer (`active` for the newest). */
  readonly state: DeprecationState;
  /** The HTTP method. */
  readonly method: string;
  /** The path without its version prefix and query: `/users/7` for `/v1/users/7?full=1`. */
  readonly path: string;
  /** Whether bodies are converted: the version is older than the newest. */
  readonly adapts: boolean;
}

/** One request's call, as the core hands it to the middleware. */
export class Call implements ApiCall {
  constructor(
    readonly api: string,
    readonly version: string,
    readonly current: string,
    readonly by: SelectedBy,
    readonly consumer: string,
    readonly state: DeprecationState,
    readonly method: string,
    private readonly url: string,
    private readonly prefix: number,
    readonly adapts: boolean,
    /** Response headers to add: `Api-Version`, and `Deprecation`, `Sunset`, `Link` from the warning point. */
    readonly headers: readonly ApiHeader[],
    /** A value to append to `Vary`, or null (a version named by the path does not vary with headers). */
    readonly vary: string | null,
  ) {}

  get path(): string {
    return pathOf(this.url, this.prefix);
  }
}

/** A request the core answers itself: 400 for an unknown version, 410 for a disabled one; the handler is not run. */
export class Rejection {
  constructor(
    readonly status: 400 | 410,
    /** All the response's headers, `Content-Type: application/problem+json` first. */
    readonly headers: readonly ApiHeader[],
    /** The problem document, serialised. */
    readonly body: string,
    readonly problem: ApiProblem,
    /** The call of a disabled version (counted), or null for an unknown version. */
    readonly call: Call | null,
  ) {}
}

/** One old version's timeline for the default consumer or one `allow`ed consumer, with what it sends. */
interface TimelineEntry {
  readonly timeline: VersionTimeline;
  /** `Api-Version` and the deprecation headers. */
  readonly warned: readonly ApiHeader[];
  gone?: Rejection;
}

const HOUR = 3_600_000;

/**
 * The versioned API's core, shared by every framework's middleware: picks the version, places it on its
 * deprecation timeline for the consumer at `rt.now()`, logs (once per version and consumer per hour), counts
 * the call, and converts bodies with the adapters. Everything per version is built once; a request costs a few
 * header reads, one map update and one object.
 */
export class ApiEngine {
  readonly name: string;
  readonly versions: readonly string[];
  readonly current: string;
  readonly counts: ConsumerCounts;
  private readonly currentIndex: number;
  private readonly selector: VersionSelector;
  private readonly hints: SelectionHints;
  private readonly plain: readonly (readonly ApiHeader[])[];
  private readonly vary: string | null;
  private readonly allowed: ReadonlySet<string>;
  private released: number | null | undefined;
  private entries: (TimelineEntry | null | undefined)[] = [];
  private allowedEntries = new Map<string, TimelineEntry | null>();
  private readonly logged = new Map<string, number>();

  constructor(
    private readonly rt: CompatRuntime,
    readonly spec: ApiSpec,
    private readonly adapters: readonly VersionAdapter[],
    private readonly extract: ConsumerExtractor,
    private readonly flag: string | undefined,
  ) {
    this.name = spec.name;
    this.versions = spec.versions.map((v) => v.version);
    this.currentIndex = this.versions.length - 1;
    this.current = this.versions[this.currentIndex] as string;
    this.selector = new VersionSelector(spec);
    this.hints = { name: spec.name, path: spec.select.path, mediaType: spec.select.mediaType, header: spec.select.header };
    this.plain = this.versions.map((v) => [['Api-Version', v]]);
    const vary = [spec.select.mediaType ? 'Accept' : null, spec.select.header].filter((x) => x !== null);
    this.vary = vary.length > 0 ? vary.join(', ') : null;
    this.allowed = new Set(spec.allow.map((a) => a.consumer));
    this.counts = new ConsumerCounts(spec.name, this.versions);
  }

  /** Decide `req`: the call to hand to the handler, or the answer to send instead. */
  decide(req: ApiRequest): Call | Rejection {
    const sel = this.selector;
    const index = sel.select(req);
    if (index < 0) return this.unknownVersion(sel.unknown, sel.by);
    const consumer = consumerOf(this.extract, req);
    const now = this.rt.now();
    const nowMs = now.getTime();
    // Calls are counted when they happen (the wall clock), whatever clock the timeline is judged by.
    this.counts.count(index, consumer, Date.now());
    const vary = sel.by === 'path' ? null : this.vary;
    const version = this.versions[index] as string;
    if (index === this.currentIndex)
      return new Call(
        this.name,
        version,
        this.current,
        sel.by,
        consumer,
        'active',
        req.method,
        req.url,
        sel.prefix,
        false,
        this.plain[index] as ApiHeader[],
        vary,
      );
    const entry = this.entry(index, consumer);
    const state = entry === null ? 'active' : deprecationState(entry.timeline, now);
    const warned = state === 'warning' || state === 'disabled';
    const headers = warned ? (entry as TimelineEntry).warned : (this.plain[index] as ApiHeader[]);
    const call = new Call(this.name, version, this.current, sel.by, consumer, state, req.method, req.url, sel.prefix, true, headers, vary);
    if (state === 'logging' || warned) this.warn(index, call, (entry as TimelineEntry).timeline, nowMs);
    if (state === 'disabled') {
      const e = entry as TimelineEntry;
      e.gone ??= this.gone(e);
      return vary === null ? new Rejection(410, e.gone.headers, e.gone.body, e.gone.problem, call) : this.withVary(e.gone, vary, call);
    }
    return call;
  }

  /** `body`, a request body of `call`'s version, in the newest version's shape. */
  adaptRequest(call: ApiCall, body: unknown): unknown {
    return call.adapts ? adaptRequest(this.adapters, this.versions, call.version, this.current, body, { method: call.method, path: call.path }) : body;
  }

  /** `body`, a response body of the newest version, in `call`'s version's shape. */
  adaptResponse(call: ApiCall, body: unknown): unknown {
    return call.adapts ? adaptResponse(this.adapters, this.versions, this.current, call.version, body, { method: call.method, path: call.path }) : body;
  }

  /** Log that converting or handling `call` failed (the middleware answers 500). */
  failed(call: ApiCall, err: unknown): void {
    this.rt.log(`${this.name} ${call.version} ${call.method} ${call.path} failed: ${err instanceof Error ? err.message : String(err)}`, {
      api: this.name,
      version: call.version,
      consumer: call.consumer,
      error: err,
    });
  }

  /** The timeline of `version` for `consumer` at the current release (null: the newest version, or no such version). */
  timeline(version: string, consumer?: string): VersionTimeline | null {
    const index = this.versions.indexOf(version);
    if (index < 0 || index === this.currentIndex) return null;
    return (consumer === undefined ? this.entry(index, '') : this.entry(index, consumer))?.timeline ?? null;
  }

  /** When the migration's flag first reached 100 % (T+0), as the flags client last read it. */
  releasedAt(): Date | null {
    const at = this.flag === undefined ? undefined : this.rt.flags.flag(this.flag)?.fullAt;
    return at ?? null;
  }

  /** The cached timeline of an old version for `consumer`, rebuilt when the release date changes. */
  private entry(index: number, consumer: string): TimelineEntry | null {
    const released = this.releasedAt()?.getTime() ?? null;
    if (released !== this.released) {
      this.released = released;
      this.entries = [];
      this.allowedEntries = new Map();
    }
    if (!this.allowed.has(consumer)) {
      let e = this.entries[index];
      if (e === undefined) {
        e = this.build(index, undefined);
        this.entries[index] = e;
      }
      return e;
    }
    const key = `${index}\u0000${consumer}`;
    let e = this.allowedEntries.get(key);
    if (e === undefined) {
      e = this.build(index, consumer);
      this.allowedEntries.set(key, e);
    }
    return e;
  }

  private build(index: number, consumer: string | undefined): TimelineEntry | null {
    const version = this.versions[index] as string;
    const timeline = versionTimeline(this.spec, version, this.released === null || this.released === undefined ? null : new Date(this.released), consumer);
    if (timeline === null) return null;
    const warned: ApiHeader[] = [...(this.plain[index] as ApiHeader[])];
    const dep = deprecationHeaders(timeline, this.spec.guide);
    if (dep !== undefined) for (const [name, value] of Object.entries(dep)) warned.push([name, value]);
    return { timeline, warned };
  }

  private gone(e: TimelineEntry): Rejection {
    const problem = goneProblem(this.hints, this.versions, e.timeline.version, e.timeline.disable, this.spec.guide);
    return new Rejection(410, [['Content-Type', PROBLEM_TYPE], ...e.warned], JSON.stringify(problem), problem, null);
  }

  private withVary(r: Rejection, vary: string, call: Call | null): Rejection {
    return new Rejection(r.status, [...r.headers, ['Vary', vary]], r.body, r.problem, call);
  }

  private unknownVersion(requested: string, by: SelectedBy): Rejection {
    const problem = unknownVersionProblem(
      this.hints,
      this.versions,
      requested,
      by === 'media-type' ? 'media type' : by === 'header' ? `${this.spec.select.header} header` : 'path',
    );
    const headers: ApiHeader[] = [['Content-Type', PROBLEM_TYPE]];
    if (by !== 'path' && this.vary !== null) headers.push(['Vary', this.vary]);
    return new Rejection(400, headers, JSON.stringify(problem), problem, null);
  }

  /** Log a call to a deprecated version, once per version and consumer per hour (of `rt.now()`) in this process. */
  private warn(index: number, call: Call, t: VersionTimeline, nowMs: number): void {
    const key = `${index}\u0000${call.consumer}`;
    const last = this.logged.get(key);
    if (last !== undefined && nowMs >= last && nowMs - last < HOUR) return;
    if (this.logged.size >= 10_000) for (const [k, at] of this.logged) if (nowMs - at >= HOUR || nowMs < at) this.logged.delete(k);
    if (this.logged.size >= 10_000) this.logged.clear();
    this.logged.set(key, nowMs);
    const deprecated = deprecatedAt(t);
    const until = t.disable === null ? 'a date set from the release' : t.disable.toISOString();
    const message =
      call.state === 'disabled'
        ? `${call.consumer} called ${this.name} ${call.version}, which is disabled since ${until}: answered 410 Gone; it should move to ${this.current}`
        : `${call.consumer} called ${this.name} ${call.version}, deprecated${deprecated === null ? '' : ` since ${deprecated.toISOString()}`}; it is disabled from ${until}: it should move to ${this.current}`;
    this.rt.log(message, {
      api: this.name,
      version: call.version,
      current: this.current,
      consumer: call.consumer,
      state: call.state,
      deprecation: deprecated?.toISOString() ?? null,
      sunset: t.disable?.toISOString() ?? null,
      guide: this.spec.guide ?? null,
    });
  }
}
