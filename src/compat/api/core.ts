import type { CompatRuntime } from '../runtime.js';
import type { ApiSpec, ApiSpecInput } from './spec.js';
import type { ApiModule, VersionAdapter } from './types.js';

/** A request as every framework can describe it. */
export interface ApiRequest {
  method: string;
  /** Path and query, e.g. `/v1/users/7?full=1`. */
  url: string;
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** Names the caller of a request (an API key's owner, a header, the user agent); undefined: `anonymous`. */
export type ConsumerExtractor = (req: ApiRequest) => string | undefined;

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
  /** `route` under every version's path prefix (`/users/:id` → `/v1/users/:id`, `/v2/users/:id`), to mount one handler on all of them. */
  paths(route: string): string[];
}

/** The versioned API of `source`, counting and logging through `rt`. */
export function versionedApi(rt: CompatRuntime, source: ApiSource, opts: ApiOptions = {}): VersionedApi {
  void rt;
  void source;
  void opts;
  throw new Error('not implemented');
}
