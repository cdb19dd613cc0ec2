import { serializeItem } from 'structured-headers';
import { FerryError } from '../../errors.js';
import type { VersionTimeline } from './spec.js';

/**
 * The response headers of a deprecated version: `Deprecation` (RFC 9745: a structured-field date, never
 * `true`), `Sunset` (RFC 8594: an HTTP-date in the IMF-fixdate form of RFC 9110) and `Link` to the upgrade
 * guide with the relation types `deprecation` and `sunset`.
 */

/** The headers a deprecated version's responses carry, by name as sent. */
export interface DeprecationHeaders {
  /** `@<unix seconds>` of the day the version was deprecated (announced). */
  Deprecation: string;
  /** IMF-fixdate of the day the version is disabled; absent while that day hangs on a release that has not happened. */
  Sunset?: string;
  /** `<guide>; rel="deprecation", <guide>; rel="sunset"`; absent without a guide. */
  Link?: string;
}

/** The earliest IMF-fixdate with a four-digit year is 0000; the latest 9999-12-31T23:59:59Z. */
const LAST_FIXDATE = Date.UTC(9999, 11, 31, 23, 59, 59);
const FIRST_FIXDATE = new Date(0).setUTCFullYear(0, 0, 1);

/** `date` as an RFC 9651 sf-date (`@1688169599`): whole seconds since the epoch, rounded down. */
export function sfDate(date: Date): string {
  return serializeItem(date);
}

/**
 * `date` as an RFC 9110 IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), rounded down to the second. ECMAScript
 * defines `toUTCString` as exactly this form for years 0–9999; dates outside are clamped to that range.
 */
export function imfFixdate(date: Date): string {
  const ms = Math.min(LAST_FIXDATE, Math.max(FIRST_FIXDATE, date.getTime()));
  return new Date(ms - (((ms % 1000) + 1000) % 1000)).toUTCString();
}

/** When the version counts as deprecated: its announcement, or (while that hangs on a release) its first dated point. */
export function deprecatedAt(t: VersionTimeline): Date | null {
  return t.announce ?? t.log ?? t.respond ?? t.disable;
}

/** `Link` to the upgrade guide, once for each relation type: one field, two link-values (RFC 8288 §3). */
export function guideLink(guide: string): string {
  const href = new URL(guide).href;
  return `<${href}>; rel="deprecation", <${href}>; rel="sunset"`;
}

/**
 * The headers of a deprecated version's responses from its timeline (undefined while no point of it is known).
 * Throws when the timeline would put Sunset before Deprecation: `versionTimeline` keeps its points in order.
 */
export function deprecationHeaders(t: VersionTimeline, guide?: string): DeprecationHeaders | undefined {
  const deprecated = deprecatedAt(t);
  if (deprecated === null) return undefined;
  const out: DeprecationHeaders = { Deprecation: sfDate(deprecated) };
  if (t.disable !== null) {
    if (t.disable.getTime() < deprecated.getTime())
      throw new FerryError(
        'E_INTERNAL',
        `version ${t.version} would be disabled (${t.disable.toISOString()}) before it is deprecated (${deprecated.toISOString()})`,
      );
    out.Sunset = imfFixdate(t.disable);
  }
  if (guide !== undefined) out.Link = guideLink(guide);
  return out;
}
