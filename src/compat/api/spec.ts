import { z } from 'zod';
import { parseHold } from '../../duration.js';

/**
 * The `api` section of a migration's manifest: the versions of an HTTP API the migration changes, how a
 * request names its version, the deprecation timeline of the old versions, the consumers allowed to stay
 * longer, and the upgrade guide. Read by `ferry/compat`'s middleware at run time and by ferry's
 * `consumers`, `upgrade-guide` and cleanup.
 */

/** A point of the timeline: an offset from the day the migration's flag reached 100 % ("30d", "12h"), or a date ("2027-03-01", ISO 8601). */
const when = z
  .string()
  .refine((w) => OFFSET.test(w) || isDate(w), 'must be an offset like "30d" (from the day the flag reached 100 %) or a date like "2027-03-01"')
  .describe('An offset from the day the flag first reached 100 % ("0d", "30d", "12h"), or an ISO 8601 date ("2027-03-01", "2027-03-01T12:00:00Z").');

const OFFSET = /^(?:\d+(?:s|min|m|h|d))+$/;

function isDate(text: string): boolean {
  return /^\d{4}-\d{2}-\d{2}(?:[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)?$/.test(text) && !Number.isNaN(Date.parse(text));
}

const timelineFields = {
  announce: when.optional().describe('T+0: the new version is announced and released; old-version responses say nothing yet. Default "0d".'),
  log: when.optional().describe('From here each call to the old version logs a warning, once per consumer per hour. Default "30d".'),
  respond: when.optional().describe('From here old-version responses carry `Deprecation`, `Sunset` and `Link` headers. Default "60d".'),
  disable: when.optional().describe('From here the old version answers 410 Gone with a problem+json body pointing to the guide. Default "90d".'),
};

/** A deprecation timeline; each point an offset or a date. */
export const timelineSchema = z.strictObject(timelineFields);

/** The workflow's timeline: announce T+0, log warnings T+30 d, response warnings T+60 d, disable T+90 d. */
export const DEFAULT_TIMELINE = { announce: '0d', log: '30d', respond: '60d', disable: '90d' } as const;

const versionName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,31}$/, 'must be letters, digits, ".", "-" or "_" (at most 32), like "v1"');

const consumerName = z.string().min(1).max(200);

export const apiSchema = z
  .strictObject({
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'must be lowercase letters, digits, "." or "-"')
      .describe("The API's name: counts of calls are kept under it, and the media type is `application/vnd.<name>.<version>+json`."),
    versions: z
      .array(
        z.strictObject({
          version: versionName.describe("The version as requests name it: the path prefix (`/v1/`), the media type's `.v1`, or the header value."),
          timeline: timelineSchema
            .optional()
            .describe("This version's own deprecation timeline; default the API's `timeline`. Ignored for the newest version."),
        }),
      )
      .min(2, 'an API section needs the old and the new version')
      .describe('The versions, oldest first; the last is current, every earlier one is deprecated on the timeline.'),
    select: z
      .strictObject({
        path: z.boolean().default(true).describe('A request names its version with a path prefix: `/v1/users/7`.'),
        mediaType: z.boolean().default(true).describe('… or with its Accept (or Content-Type) media type: `application/vnd.<name>.v2+json`.'),
        header: z
          .string()
          .regex(/^[A-Za-z0-9-]+$/, 'must be a header name')
          .nullable()
          .default('Api-Version')
          .describe('… or with this header (`Api-Version: v2`); null: not by header.'),
      })
      .prefault({})
      .describe('How a request names its version; the path prefix wins over the media type, which wins over the header.'),
    defaultVersion: versionName
      .optional()
      .describe('The version of a request that names none; default the oldest (clients written before versioning keep their shape until it is disabled).'),
    timeline: timelineSchema
      .prefault({})
      .describe('The deprecation timeline of every old version; default T+0 announce, T+30 d logs, T+60 d responses, T+90 d disabled.'),
    guide: z.url().optional().describe('Where the upgrade guide lives (`ferry upgrade-guide <id>` renders it): linked from the headers and the 410 body.'),
    consumerWindow: z
      .string()
      .refine((d) => parseHold(d) !== undefined, 'must be a duration like "7d"')
      .default('7d')
      .describe('`ferry cleanup` is refused while an old version had a call within this long (unless `--force --reason`).'),
    allow: z
      .array(
        z.strictObject({
          consumer: consumerName.describe("The consumer, as the middleware's consumer extractor names it."),
          version: versionName.optional().describe('The old version it may keep; default every old version.'),
          until: when.optional().describe('Keep the version working for this consumer until then (its `disable`).'),
          timeline: timelineSchema.optional().describe('Any other point of the timeline for this consumer.'),
        }),
      )
      .default([])
      .describe('Per-consumer overrides: e.g. keep a named partner on v1 until a given date.'),
    mapping: z
      .array(
        z.strictObject({
          old: z.string().min(1).describe('The field (or fields) of the old version, e.g. `name`.'),
          new: z.string().min(1).describe('What the newest version has instead, e.g. `firstName + lastName`.'),
          note: z.string().optional().describe('How to convert, or what to watch for.'),
        }),
      )
      .default([])
      .describe('Field mapping old → new for the upgrade guide, e.g. `{"old": "name", "new": "firstName + lastName"}`.'),
    module: z
      .string()
      .min(1)
      .refine((p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..'), 'must be a path inside the migration folder')
      .optional()
      .describe('A .ts or .js module in the migration folder exporting `adapters` (and `examples` for the guide); the application imports the same module.'),
  })
  .superRefine((a, ctx) => {
    const seen = new Set<string>();
    a.versions.forEach((v, i) => {
      if (seen.has(v.version)) ctx.addIssue({ code: 'custom', path: ['versions', i, 'version'], message: `duplicate version "${v.version}"` });
      seen.add(v.version);
    });
    if (a.defaultVersion !== undefined && !seen.has(a.defaultVersion))
      ctx.addIssue({ code: 'custom', path: ['defaultVersion'], message: `names no version of this API ("${a.defaultVersion}")` });
    a.allow.forEach((e, i) => {
      if (e.version !== undefined && !seen.has(e.version))
        ctx.addIssue({ code: 'custom', path: ['allow', i, 'version'], message: `names no version of this API ("${e.version}")` });
    });
    if (!a.select.path && !a.select.mediaType && a.select.header === null)
      ctx.addIssue({ code: 'custom', path: ['select'], message: 'a request must be able to name its version: by path, media type or header' });
  });

/** A manifest's `api` section as written. */
export type ApiSpecInput = z.input<typeof apiSchema>;
/** A validated `api` section with its defaults. */
export type ApiSpec = z.output<typeof apiSchema>;

/** Parse an `api` section (e.g. the `api` field of an imported `migration.json`); throws zod's error when invalid. */
export function parseApiSpec(input: unknown): ApiSpec {
  return apiSchema.parse(input);
}

/** Where one old version stands for one consumer: the four points of its timeline as dates (null while they hang on a release that has not happened). */
export interface VersionTimeline {
  version: string;
  announce: Date | null;
  log: Date | null;
  respond: Date | null;
  /** Never earlier than `announce`, so Sunset is never earlier than Deprecation. */
  disable: Date | null;
}

/** What an old version does for a consumer at one moment. */
export type DeprecationState = 'active' | 'announced' | 'logging' | 'warning' | 'disabled';

const at = (point: string, releasedAt: Date | null): Date | null => {
  if (isDate(point)) return new Date(point);
  if (releasedAt === null) return null;
  return new Date(releasedAt.getTime() + (parseHold(point) ?? 0));
};

/**
 * The timeline of `version` for `consumer` (an `allow` entry overrides the version's and the API's), with
 * offsets counted from `releasedAt` (when the migration's flag first reached 100 %; null: not yet). Null for
 * the newest version, which is never deprecated. Points are kept in order: a later point is never earlier than
 * an earlier one.
 */
export function versionTimeline(spec: ApiSpec, version: string, releasedAt: Date | null, consumer?: string): VersionTimeline | null {
  const index = spec.versions.findIndex((v) => v.version === version);
  if (index < 0 || index === spec.versions.length - 1) return null;
  const own = spec.versions[index]?.timeline ?? {};
  const allowed = consumer === undefined ? undefined : spec.allow.find((e) => e.consumer === consumer && (e.version === undefined || e.version === version));
  const point = (name: keyof typeof DEFAULT_TIMELINE): string =>
    (name === 'disable' ? allowed?.until : undefined) ?? allowed?.timeline?.[name] ?? own[name] ?? spec.timeline[name] ?? DEFAULT_TIMELINE[name];
  let last: Date | null = null;
  const ordered = (d: Date | null): Date | null => {
    if (d === null) return null;
    const kept = last !== null && d < last ? last : d;
    last = kept;
    return kept;
  };
  const announce = ordered(at(point('announce'), releasedAt));
  const log = ordered(at(point('log'), releasedAt));
  const respond = ordered(at(point('respond'), releasedAt));
  const disable = ordered(at(point('disable'), releasedAt));
  return { version, announce, log, respond, disable };
}

/** The state of a version's timeline at `now`: `active` before its announcement (or for the newest version). */
export function deprecationState(t: VersionTimeline | null, now: Date): DeprecationState {
  if (t === null) return 'active';
  const reached = (d: Date | null) => d !== null && now.getTime() >= d.getTime();
  if (reached(t.disable)) return 'disabled';
  if (reached(t.respond)) return 'warning';
  if (reached(t.log)) return 'logging';
  if (reached(t.announce)) return 'announced';
  return 'active';
}

/** The versions older than the newest, oldest first. */
export function oldVersions(spec: ApiSpec): string[] {
  return spec.versions.slice(0, -1).map((v) => v.version);
}

/** The newest version, which handlers are written against. */
export function currentVersion(spec: ApiSpec): string {
  return (spec.versions[spec.versions.length - 1] as { version: string }).version;
}
