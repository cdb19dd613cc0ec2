/**
 * Adapters let a handler be written once, against the newest version of an API: each adapter turns a
 * request of one version into the next newer version's shape, and a response of the newer version back
 * into the older shape. Plain functions of JSON values; chained for APIs with more than two versions.
 */

/** What an adapter knows of the call it converts. */
export interface AdapterContext {
  /** The HTTP method, upper case. */
  method: string;
  /** The path without its version prefix: `/users/7` for `/v1/users/7`. */
  path: string;
  /** The version converted from and to (for a response: from the newer to the older). */
  from: string;
  to: string;
}

/** Converts between one version (`from`) and the next newer one (`to`). */
export interface VersionAdapter {
  /** The older version. */
  from: string;
  /** The next newer version. */
  to: string;
  /** A request body of `from` as `to` would have it; absent: unchanged. */
  request?: (body: unknown, ctx: AdapterContext) => unknown;
  /** A response body of `to` as `from` would have it; absent: unchanged. */
  response?: (body: unknown, ctx: AdapterContext) => unknown;
}

/** One example call of the newest version, for the upgrade guide (the adapters produce its older versions). */
export interface ApiExample {
  title?: string;
  method: string;
  /** Without the version prefix: `/users/7`. */
  path: string;
  /** The request body in the newest version's shape, if the call has one. */
  request?: unknown;
  /** The response body in the newest version's shape. */
  response: unknown;
  /** Default 200. */
  status?: number;
}

/** What an API's module (the manifest's `api.module`) exports. */
export interface ApiModule {
  adapters: readonly VersionAdapter[];
  examples?: readonly ApiExample[];
}
