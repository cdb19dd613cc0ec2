import { type ApiRequest, headerOf } from './request.js';
import type { ApiSpec } from './spec.js';

/** How a request named the version it is served: its path prefix, its media type, the version header, or none (the default). */
export type SelectedBy = 'path' | 'media-type' | 'header' | 'default';

/** A path's first segment that looks like a version (`/v9/…`): named but unknown → 400, not the default version. */
const VERSION_LIKE = /^v\d+$/;

/** `s` as a literal inside a regular expression. */
export const escapeRegExp = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * Picks the version of a request from a table built once per API: the path prefix (`/v1/users/7`), then the
 * media type of `Accept` or else `Content-Type` (`application/vnd.<name>.v1+json`), then the version header,
 * else the default version. One call per request, no allocation on the common path: the outcome is the
 * version's index, and the details of the last call are left in the selector's fields (single-threaded).
 */
export class VersionSelector {
  /** How the last request named its version. */
  by: SelectedBy = 'default';
  /** Length of the last request's version prefix in its URL (`/v1` → 3), 0 when not selected by path. */
  prefix = 0;
  /** What the last request named when it named no version of this API (the index was -1). */
  unknown = '';

  private readonly versions: readonly string[];
  private readonly prefixes: readonly string[];
  private readonly byName: ReadonlyMap<string, number>;
  private readonly byLowerName: ReadonlyMap<string, number>;
  private readonly usePath: boolean;
  private readonly mediaType: RegExp | null;
  private readonly header: string | null;
  private readonly fallback: number;

  constructor(spec: ApiSpec) {
    this.versions = spec.versions.map((v) => v.version);
    this.prefixes = this.versions.map((v) => `/${v}`);
    this.byName = new Map(this.versions.map((v, i) => [v, i]));
    this.byLowerName = new Map(this.versions.map((v, i) => [v.toLowerCase(), i]));
    this.usePath = spec.select.path;
    this.mediaType = spec.select.mediaType ? new RegExp(`application/vnd\\.${escapeRegExp(spec.name)}\\.([^+;,\\s]+)\\+json`, 'i') : null;
    this.header = spec.select.header === null ? null : spec.select.header.toLowerCase();
    this.fallback = spec.defaultVersion === undefined ? 0 : (this.byName.get(spec.defaultVersion) ?? 0);
  }

  /** The index of `req`'s version (oldest first), or -1 when it names a version this API does not have (see {@link unknown}). */
  select(req: ApiRequest): number {
    this.prefix = 0;
    const url = req.url;
    if (this.usePath && url.charCodeAt(0) === 47 /* / */) {
      const at = this.byPath(url);
      if (at !== -2) return at;
    }
    if (this.mediaType !== null) {
      const at = this.byMediaType(headerOf(req, 'accept')) ?? this.byMediaType(headerOf(req, 'content-type'));
      if (at !== undefined) {
        this.by = 'media-type';
        return at;
      }
    }
    if (this.header !== null) {
      const value = headerOf(req, this.header);
      if (value !== undefined) {
        this.by = 'header';
        const named = value.trim();
        const at = this.byName.get(named);
        if (at !== undefined) return at;
        this.unknown = named;
        return -1;
      }
    }
    this.by = 'default';
    return this.fallback;
  }

  /** -2: the path names no version at all. */
  private byPath(url: string): number {
    const prefixes = this.prefixes;
    for (let i = 0; i < prefixes.length; i++) {
      const p = prefixes[i] as string;
      if (!url.startsWith(p)) continue;
      const next = url.charCodeAt(p.length);
      // End of the URL, "/", "?" or "#": the whole first segment is the version.
      if (Number.isNaN(next) || next === 47 || next === 63 || next === 35) {
        this.by = 'path';
        this.prefix = p.length;
        return i;
      }
    }
    let end = 1;
    while (end < url.length) {
      const c = url.charCodeAt(end);
      if (c === 47 || c === 63 || c === 35) break;
      end++;
    }
    const segment = url.slice(1, end);
    if (!VERSION_LIKE.test(segment)) return -2;
    this.by = 'path';
    this.unknown = segment;
    return -1;
  }

  /** undefined: the header names no version of this API's media type. */
  private byMediaType(value: string | undefined): number | undefined {
    if (value === undefined || this.mediaType === null) return undefined;
    const m = this.mediaType.exec(value);
    if (m === null) return undefined;
    const named = m[1] as string;
    const at = this.byLowerName.get(named.toLowerCase());
    if (at !== undefined) return at;
    this.unknown = named;
    return -1;
  }
}
