import type { IncomingMessage, ServerResponse } from 'node:http';
import type { MiddlewareHandler } from 'hono';
import { ZodError } from 'zod';
import { FerryError } from '../../errors.js';
import type { CompatRuntime } from '../runtime.js';
import { defaultConsumer } from './consumers.js';
import { type ApiCall, ApiEngine, type Call, type Rejection } from './engine.js';
import { type ExpressApiMiddleware, expressMiddleware } from './express.js';
import { type FastifyApiPlugin, fastifyPlugin } from './fastify.js';
import { type ApiEnv, honoMiddleware } from './hono.js';
import { type NodeApiHandler, type NodeApiOptions, nodeHandler } from './node.js';
import type { ApiRequest, ConsumerExtractor } from './request.js';
import { type ApiSpec, type ApiSpecInput, type DeprecationState, deprecationState, parseApiSpec, type VersionTimeline } from './spec.js';
import type { ApiModule, VersionAdapter } from './types.js';

export type { ApiRequest, ConsumerExtractor } from './request.js';

/** Where an API's spec comes from: a migration's manifest (its `api` and its `flag`), or the two given alone. */
export interface ApiSource {
  api: ApiSpecInput | ApiSpec;
  /** The flag whose first 100 % is T+0 of the timeline; without it only dated points apply. */
  flag?: string;
}

/** How {@link versionedApi} converts, names and counts calls. */
export interface ApiOptions {
  /** The adapters between consecutive versions, or the API's module (its `adapters`). */
  adapters?: readonly VersionAdapter[] | ApiModule;
  /** Names the caller for counts, logs and `allow` overrides; default the `X-Api-Consumer` header, else the user agent's product. */
  consumer?: ConsumerExtractor;
}

/** The versioned API of one `api` section: one core and its middleware for each framework. */
export interface VersionedApi {
  readonly spec: ApiSpec;
  /** The versions, oldest first; the last is the one handlers are written against. */
  readonly versions: readonly string[];
  /**
   * `route` under every version's path prefix (`/users/:id` → `/v1/users/:id`, `/v2/users/:id`), to mount one
   * handler on all of them; with `bare` (default true) also `route` itself, which requests naming their version
   * by media type or header, or none (the default version), reach. Only `[route]` when versions are not in paths.
   */
  paths(route: string, opts?: { bare?: boolean }): string[];
  /** The framework-free core: the call for `req` (counted), or the 400/410 answer to send instead of running the handler. */
  decide(req: ApiRequest): Call | Rejection;
  /** A request body of `call`'s version in the newest version's shape (unchanged for the newest). */
  adaptRequest(call: ApiCall, body: unknown): unknown;
  /** A response body of the newest version in `call`'s version's shape (unchanged for the newest). */
  adaptResponse(call: ApiCall, body: unknown): unknown;
  /** An old version's timeline for `consumer` (its `allow` entry applied), from the release the flags client last read; null for the newest. */
  timeline(version: string, consumer?: string): VersionTimeline | null;
  /** Where `version` stands for `consumer` now (`rt.now()`). */
  state(version: string, consumer?: string): DeprecationState;
  /** Calls counted in this process and not yet flushed to `ferry.api_consumers`. */
  pendingCalls(): { version: string; consumer: string; calls: number; firstSeen: Date; lastSeen: Date }[];
  /** Express middleware: `app.use(api.express())`; the handler reads `req.ferryApi`. */
  express(): ExpressApiMiddleware;
  /** A Fastify plugin: `app.register(api.fastify())` before the routes; the handler reads `request.ferryApi`. */
  fastify(): FastifyApiPlugin;
  /** Hono middleware: `app.use(api.hono())`; the handler reads `c.get('ferryApi')`. */
  hono(): MiddlewareHandler<ApiEnv>;
  /** A `node:http` listener around `handler`: JSON bodies arrive parsed in `req.body`, the call in `req.ferryApi`. */
  node(handler: NodeApiHandler, opts?: NodeApiOptions): (req: IncomingMessage, res: ServerResponse) => void;
}

function specOf(api: ApiSpecInput | ApiSpec): ApiSpec {
  try {
    return parseApiSpec(api);
  } catch (err) {
    if (!(err instanceof ZodError)) throw err;
    const issues = err.issues.map((i) => `${i.path.join('.') || '(api)'}: ${i.message}`).join('; ');
    throw new FerryError(
      'E_MANIFEST',
      `the api section is invalid: ${issues}`,
      'fix the `api` section of the migration manifest (docs/manifest.md)',
      err.issues,
    );
  }
}

function adaptersOf(spec: ApiSpec, given: ApiOptions['adapters']): readonly VersionAdapter[] {
  const adapters = given === undefined ? [] : 'adapters' in given ? given.adapters : (given as readonly VersionAdapter[]);
  const versions = spec.versions.map((v) => v.version);
  const seen = new Set<string>();
  for (const a of adapters) {
    const i = versions.indexOf(a.from);
    if (i < 0 || versions[i + 1] !== a.to)
      throw new FerryError(
        'E_MANIFEST',
        `adapter ${a.from} → ${a.to} does not join two consecutive versions of API ${spec.name} (${versions.join(', ')})`,
        'write one adapter per step, from each version to the next newer one',
      );
    if (seen.has(a.from)) throw new FerryError('E_MANIFEST', `two adapters from ${a.from} to ${a.to} in API ${spec.name}`, 'keep one adapter per step');
    seen.add(a.from);
  }
  return adapters;
}

/** The versioned API of `source`, counting and logging through `rt`. */
export function versionedApi(rt: CompatRuntime, source: ApiSource, opts: ApiOptions = {}): VersionedApi {
  const spec = specOf(source.api);
  const engine = new ApiEngine(rt, spec, adaptersOf(spec, opts.adapters), opts.consumer ?? defaultConsumer, source.flag);
  rt.register(engine.counts);
  return {
    spec,
    versions: engine.versions,
    paths(route, o = {}) {
      if (!spec.select.path) return [route];
      const r = route.startsWith('/') ? route : `/${route}`;
      const out = engine.versions.map((v) => `/${v}${r}`);
      if (o.bare ?? true) out.push(r);
      return out;
    },
    decide: (req) => engine.decide(req),
    adaptRequest: (call, body) => engine.adaptRequest(call, body),
    adaptResponse: (call, body) => engine.adaptResponse(call, body),
    timeline: (version, consumer) => engine.timeline(version, consumer),
    state: (version, consumer) => deprecationState(engine.timeline(version, consumer), rt.now()),
    pendingCalls: () => engine.counts.snapshot(),
    express: () => expressMiddleware(engine),
    fastify: () => fastifyPlugin(engine),
    hono: () => honoMiddleware(engine),
    node: (handler, o) => nodeHandler(engine, handler, o),
  };
}
