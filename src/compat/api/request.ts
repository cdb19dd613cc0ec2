/**
 * The request every framework's middleware hands to the versioned API's core: method, path and headers, as
 * node:http has them (Express and Fastify pass their own request objects, which already have this shape).
 */

/** A request as every framework can describe it. */
export interface ApiRequest {
  method: string;
  /** Path and query, e.g. `/v1/users/7?full=1`. */
  url: string;
  /** Header values by lower-case name, as node:http gives them. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** Names the caller of a request (an API key's owner, a header, the user agent); undefined: `anonymous`. */
export type ConsumerExtractor = (req: ApiRequest) => string | undefined;

/** The value of header `name` (lower case): its first value when sent more than once, undefined when absent or empty. */
export function headerOf(req: ApiRequest, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  const s = typeof v === 'string' ? v : v[0];
  return s === undefined || s === '' ? undefined : s;
}

/** The path of `url` without its query: `/v1/users/7?full=1` → `/v1/users/7`. */
export function pathOf(url: string, from = 0): string {
  const q = url.indexOf('?', from);
  const path = q < 0 ? url.slice(from) : url.slice(from, q);
  return path === '' ? '/' : path;
}

/** Whether a `Content-Type` names JSON: `application/json` or any `+json` media type. */
export function isJsonType(contentType: string | number | readonly string[] | undefined | null): boolean {
  if (typeof contentType !== 'string') return false;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json' || type.endsWith('+json');
}

/** Whether a response's `Content-Type` is JSON the adapters convert: JSON, but not a problem document. */
export function isAdaptedType(contentType: string | number | readonly string[] | undefined | null): boolean {
  return isJsonType(contentType) && !(contentType as string).toLowerCase().includes('problem+json');
}

/** Whether a response with this status carries a body the adapters convert (2xx). */
export function isAdaptedStatus(status: number): boolean {
  return status >= 200 && status < 300 && status !== 204;
}
