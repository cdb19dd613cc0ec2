import type { AdapterContext, VersionAdapter } from './types.js';

/**
 * Walk `body` from version `from` to version `to` along `versions` (oldest first), one adapter step at a time:
 * up through each step's `request`, down through each step's `response`. A step without an adapter, or without
 * the function for that direction, keeps the body.
 */
function walk(
  adapters: readonly VersionAdapter[],
  versions: readonly string[],
  from: string,
  to: string,
  body: unknown,
  call: { method: string; path: string },
): unknown {
  const start = versions.indexOf(from);
  const end = versions.indexOf(to);
  if (start < 0 || end < 0) return body;
  const up = end > start;
  let out = body;
  for (let i = start; i !== end; i += up ? 1 : -1) {
    const step = { from: versions[i] as string, to: versions[up ? i + 1 : i - 1] as string };
    const older = up ? step.from : step.to;
    const a = adapters.find((x) => x.from === older && x.to === (up ? step.to : step.from));
    const convert = up ? a?.request : a?.response;
    if (convert) out = convert(out, { ...call, ...step } satisfies AdapterContext);
  }
  return out;
}

/** Convert a request body written for version `from` into version `to` (newer), one adapter step at a time along `versions` (oldest first). */
export const adaptRequest: typeof walk = walk;

/** Convert a response body of version `from` (newer, usually the newest) into version `to` (older), one adapter step at a time down `versions`. */
export const adaptResponse: typeof walk = walk;
