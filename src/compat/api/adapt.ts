import type { AdapterContext, VersionAdapter } from './types.js';

/**
 * Convert a request body written for version `from` into version `to` (newer), one adapter step at a time
 * along `versions` (oldest first). A step without an adapter, or an adapter without `request`, keeps the body.
 */
export function adaptRequest(
  adapters: readonly VersionAdapter[],
  versions: readonly string[],
  from: string,
  to: string,
  body: unknown,
  call: { method: string; path: string },
): unknown {
  let out = body;
  for (let i = versions.indexOf(from); i >= 0 && i < versions.indexOf(to); i++) {
    const step = { from: versions[i] as string, to: versions[i + 1] as string };
    const a = adapters.find((x) => x.from === step.from && x.to === step.to);
    if (a?.request) out = a.request(out, { ...call, ...step } satisfies AdapterContext);
  }
  return out;
}

/**
 * Convert a response body of version `from` (newer, usually the newest) into version `to` (older), one
 * adapter step at a time down `versions`. A step without an adapter, or without `response`, keeps the body.
 */
export function adaptResponse(
  adapters: readonly VersionAdapter[],
  versions: readonly string[],
  from: string,
  to: string,
  body: unknown,
  call: { method: string; path: string },
): unknown {
  let out = body;
  for (let i = versions.indexOf(from); i > 0 && i > versions.indexOf(to); i--) {
    const step = { from: versions[i] as string, to: versions[i - 1] as string };
    const a = adapters.find((x) => x.from === step.to && x.to === step.from);
    if (a?.response) out = a.response(out, { ...call, ...step } satisfies AdapterContext);
  }
  return out;
}
