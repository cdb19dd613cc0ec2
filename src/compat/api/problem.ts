/**
 * The RFC 9457 problem documents (`application/problem+json`) a versioned API answers on its own: 400 for a
 * version it does not have, 410 for an old version past its disable date. Written for the API's consumers.
 */

/** The media type of every problem document. */
export const PROBLEM_TYPE = 'application/problem+json';

const DOCS = 'https://github.com/ferry/ferry/blob/main/docs/compat.md';

/** A problem document of the versioned API. */
export interface ApiProblem {
  /** Identifies the kind of problem (a documentation URI). */
  type: string;
  title: string;
  status: number;
  detail: string;
  /** The versions this API has, oldest first. */
  versions: string[];
  /** The newest version. */
  current: string;
  /** What to do instead. */
  hint: string;
  /** 400: what the request named. */
  requested?: string;
  /** 410: the version that is gone, when it was disabled (ISO 8601), and the upgrade guide. */
  version?: string;
  sunset?: string;
  guide?: string;
}

/** How a request can name a version of the API, for the hints. */
export interface SelectionHints {
  name: string;
  path: boolean;
  mediaType: boolean;
  header: string | null;
}

const ways = (s: SelectionHints, v: string): string => {
  const out: string[] = [];
  if (s.path) out.push(`the path prefix /${v}/`);
  if (s.mediaType) out.push(`Accept: application/vnd.${s.name}.${v}+json`);
  if (s.header !== null) out.push(`the header ${s.header}: ${v}`);
  return out.join(', or ');
};

/** 400: the request named `requested` (by path, media type or header), which is no version of this API. */
export function unknownVersionProblem(select: SelectionHints, versions: readonly string[], requested: string, by: string): ApiProblem {
  const current = versions[versions.length - 1] as string;
  return {
    type: `${DOCS}#unknown-api-version`,
    title: 'Unknown API version',
    status: 400,
    detail: `This API (${select.name}) has no version ${JSON.stringify(requested)} (named by the ${by}); it has ${versions.join(', ')}.`,
    versions: [...versions],
    current,
    requested,
    hint: `Name one of ${versions.join(', ')}, e.g. the newest with ${ways(select, current)}.`,
  };
}

/** 410: `version` was disabled at `sunset` (null: its date hangs on a release date that is not known). */
export function goneProblem(select: SelectionHints, versions: readonly string[], version: string, sunset: Date | null, guide: string | undefined): ApiProblem {
  const current = versions[versions.length - 1] as string;
  const since = sunset === null ? '' : ` on ${sunset.toISOString()}`;
  const p: ApiProblem = {
    type: `${DOCS}#api-version-gone`,
    title: 'API version gone',
    status: 410,
    detail: `Version ${version} of this API (${select.name}) was disabled${since}; use ${current}.`,
    versions: [...versions],
    current,
    version,
    hint:
      guide === undefined
        ? `Move to ${current} (${ways(select, current)}).`
        : `Move to ${current} (${ways(select, current)}); the upgrade guide ${guide} lists what changed.`,
  };
  if (sunset !== null) p.sunset = sunset.toISOString();
  if (guide !== undefined) p.guide = guide;
  return p;
}
