import { deprecationHeaders } from '../compat/api/headers.js';
import { goneProblem } from '../compat/api/problem.js';
import { type ApiSpec, currentVersion, DEFAULT_TIMELINE, oldVersions, versionTimeline } from '../compat/api/spec.js';
import { table, when } from './markdown.js';

/**
 * The consumer-facing upgrade guide of a migration's API (`ferry upgrade-guide <id>`): a pure function from
 * the manifest's `api` section, the release date and the adapters' examples to Markdown.
 */

/** One example call as every version sees it; the newest version's bodies are the module's, the older ones the adapters'. */
export interface GuideExample {
  title: string;
  method: string;
  /** Without the version prefix: `/users/7`. */
  path: string;
  status: number;
  versions: {
    version: string;
    request?: unknown;
    /** The older request converted up by the request adapters, when that differs from the newest example's request. */
    requestAsNewest?: unknown;
    response: unknown;
  }[];
}

/** What the guide is rendered from. */
export interface UpgradeGuideInput {
  migrationId: string;
  title: string;
  summary: string;
  /** The migration's flag: its first day at 100 % is T+0. */
  flag: string | null;
  api: ApiSpec;
  /** When the flag first reached 100 % (T+0); null: not yet, the dates are given as offsets. */
  releasedAt: Date | null;
  /** Examples from the API module; null when the manifest names no module. */
  examples: GuideExample[] | null;
}

const POINTS = [
  ['announce', 'announced: the new version is released; old-version responses do not change yet'],
  ['log', 'each call to the old version is logged as a warning (once per consumer per hour)'],
  ['respond', 'old-version responses carry `Deprecation`, `Sunset` and `Link` headers'],
  ['disable', 'the old version answers `410 Gone`'],
] as const;

/** `T+30 d after the release` for an offset without a release date; the date otherwise. */
function pointText(api: ApiSpec, version: string, name: keyof typeof DEFAULT_TIMELINE, at: Date | null): string {
  if (at !== null) return when(at);
  const own = api.versions.find((v) => v.version === version)?.timeline?.[name];
  const raw = own ?? api.timeline[name] ?? DEFAULT_TIMELINE[name];
  if (/^(0[a-z]+)+$/.test(raw)) return 'T+0: the release day (not yet scheduled)';
  return `T+${raw.replace(/(\d)([a-z]+)$/, '$1 $2')} after the release (not yet scheduled)`;
}

const json = (v: unknown) => ['```json', JSON.stringify(v, null, 2), '```'];

/** How a request names `version`, one line per way the API accepts. */
function selectLines(api: ApiSpec, version: string): string[] {
  const out: string[] = [];
  if (api.select.path) out.push(`- path prefix: \`/${version}/…\` (e.g. \`GET /${version}/users/7\`)`);
  if (api.select.mediaType) out.push(`- media type: \`Accept: application/vnd.${api.name}.${version}+json\` (and \`Content-Type\` for bodies)`);
  if (api.select.header) out.push(`- header: \`${api.select.header}: ${version}\``);
  return out;
}

function exampleLines(api: ApiSpec, ex: GuideExample): string[] {
  const out = [`### ${ex.title}`, ''];
  for (const v of [...ex.versions].reverse()) {
    const prefix = api.select.path ? `/${v.version}` : '';
    out.push(`**${v.version}** — \`${ex.method} ${prefix}${ex.path}\``, '');
    if (v.request !== undefined) out.push('Request body:', '', ...json(v.request), '');
    if (v.requestAsNewest !== undefined) out.push(`Converted up, the handler receives:`, '', ...json(v.requestAsNewest), '');
    out.push(`Response \`${ex.status}\`:`, '', ...json(v.response), '');
  }
  return out;
}

/** Render the upgrade guide: what changes, each old version's mapping and dates, how to ask for the new version, the headers, the 410 and the examples. */
export function renderUpgradeGuide(g: UpgradeGuideInput): string {
  const api = g.api;
  const current = currentVersion(api);
  const out: string[] = [`# Upgrade guide: ${api.name} ${oldVersions(api).join(', ')} → ${current}`, '', `_${g.title}_ (migration \`${g.migrationId}\`)`, ''];
  out.push('## What changes', '', g.summary, '');
  out.push(
    g.releasedAt
      ? `${current} was released on ${when(g.releasedAt)} (T+0). Dates below count from there.`
      : `${current} is not released to everyone yet: the dates below count from the day it is (T+0${g.flag ? `, when flag \`${g.flag}\` first reaches 100 %` : ''}).`,
    '',
  );
  out.push('## Field mapping', '');
  out.push(
    ...table(
      ['old field', `${current} field`, 'note'],
      api.mapping.map((f) => [`\`${f.old}\``, `\`${f.new}\``, f.note ?? '']),
    ),
    '',
  );
  for (const version of oldVersions(api)) {
    const t = versionTimeline(api, version, g.releasedAt);
    out.push(`## ${version} → ${current}`, '');
    out.push(
      ...table(
        ['when', 'what happens'],
        POINTS.map(([name, what]) => [pointText(api, version, name, t?.[name] ?? null), what]),
      ),
    );
    const allowed = api.allow.filter((a) => a.version === undefined || a.version === version);
    if (allowed.length)
      out.push('', `Consumers with an agreed extension: ${allowed.map((a) => `${a.consumer}${a.until ? ` (until ${a.until})` : ''}`).join(', ')}.`);
    out.push('');
    const headers = t ? deprecationHeaders(t, api.guide) : undefined;
    out.push(`From the response-warning date, ${version} responses carry (RFC 9745 \`Deprecation\`, RFC 8594 \`Sunset\`):`, '', '```http');
    if (headers) out.push(...Object.entries(headers).map(([k, v]) => `${k}: ${v}`));
    else
      out.push(
        'Deprecation: @<unix seconds of the announcement>',
        'Sunset: <HTTP date the version is disabled>',
        ...(api.guide ? [`Link: <${api.guide}>; rel="deprecation", <${api.guide}>; rel="sunset"`] : []),
      );
    out.push('```', '');
    out.push(`From the disable date, ${version} calls answer \`410 Gone\` with an \`application/problem+json\` body, for example:`, '');
    const select = { name: api.name, path: api.select.path, mediaType: api.select.mediaType, header: api.select.header };
    const versions = api.versions.map((v) => v.version);
    out.push(...json(goneProblem(select, versions, version, t?.disable ?? null, api.guide)), '');
  }
  out.push(`## Asking for ${current}`, '', ...selectLines(api, current), '');
  const fallback = api.defaultVersion ?? oldVersions(api)[0];
  out.push(`A request that names no version gets ${fallback}${fallback === current ? '' : ', until it is disabled: name the version explicitly'}.`, '');
  out.push('## Examples', '');
  if (g.examples === null)
    out.push(
      '_The manifest names no API module (`api.module`), so there are no example requests and responses: the mapping and the dates above are all there is._',
      '',
    );
  else if (g.examples.length === 0) out.push('_The API module exports no `examples`._', '');
  else {
    out.push(`Each example is written for ${current}; the older versions' bodies are what the adapters produce from it.`, '');
    for (const ex of g.examples) out.push(...exampleLines(api, ex));
  }
  return `${out.join('\n').trimEnd()}\n`;
}
