import type { Context, MiddlewareHandler } from 'hono';
import { type ApiCall, type ApiEngine, type Call, Rejection } from './engine.js';
import { type ApiRequest, isAdaptedStatus, isAdaptedType, isJsonType } from './request.js';

/**
 * The versioned API as Hono middleware (`app.use(api.hono())`): it answers 400/410 itself, replaces the
 * JSON request body of an old version with its newest-version shape (what `c.req.json()` and validators
 * read), converts a 2xx `c.json(…)` body down to the old version before it is serialised (a JSON Response the
 * handler built itself is parsed and rebuilt), and sets the version's headers on the response. Handlers read
 * `c.get('ferryApi')` (type the app with {@link ApiEnv}).
 */

/** The Hono environment the middleware sets: `c.get('ferryApi')` is the call. */
export type ApiEnv = { Variables: { ferryApi: ApiCall } };

/** `Headers` seen as node's header record, one `get` per name read; shared by every request. */
const HEADERS: ProxyHandler<Headers> = {
  get: (target, name) => (typeof name === 'string' ? (target.get(name) ?? undefined) : undefined),
  has: (target, name) => typeof name === 'string' && target.has(name),
};

function requestOf(raw: Request): ApiRequest {
  const url = raw.url;
  const slash = url.indexOf('/', url.indexOf('//') + 2);
  return {
    method: raw.method,
    url: slash < 0 ? '/' : url.slice(slash),
    headers: new Proxy(raw.headers, HEADERS) as unknown as ApiRequest['headers'],
  };
}

/**
 * Set the call's headers on the handler's response: directly when its headers can be changed (what `c.json`
 * and `new Response` give), else through `c.header`, which copies an immutable response once.
 */
function setHeaders(c: Context, call: Call): void {
  const headers = call.headers;
  try {
    const h = c.res.headers;
    for (let i = 0; i < headers.length; i++) {
      const kv = headers[i] as readonly [string, string];
      h.set(kv[0], kv[1]);
    }
    if (call.vary !== null) h.append('Vary', call.vary);
  } catch {
    for (const [name, value] of headers) c.header(name, value);
    if (call.vary !== null) c.header('Vary', call.vary, { append: true });
  }
}

/**
 * Make `c.json` (and `c.status`, whose status it may use) convert a 2xx body down to the call's version before
 * it is serialised: no parsing of the response afterwards. Returns whether `c.json` ran.
 */
function wrapJson(c: Context, engine: ApiEngine, call: Call): () => boolean {
  const json = c.json;
  const status = c.status;
  let set: number | undefined;
  let ran = false;
  c.status = (s) => {
    set = s;
    status(s);
  };
  c.json = ((object: unknown, arg?: number | ResponseInit, headers?: Record<string, string | string[]>) => {
    ran = true;
    const code = typeof arg === 'number' ? arg : (arg?.status ?? set ?? 200);
    return (json as (o: unknown, a?: unknown, h?: unknown) => Response)(isAdaptedStatus(code) ? engine.adaptResponse(call, object) : object, arg, headers);
  }) as typeof c.json;
  return () => ran;
}

/** Replace an old version's JSON request body with its newest-version shape, for `c.req.json()`, `c.req.text()` and `c.req.raw`. */
async function adaptBody(c: Context, engine: ApiEngine, call: Call): Promise<void> {
  const raw = c.req.raw;
  const text = await c.req.text();
  if (text.trim() === '') return;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return; // Not JSON: the handler (or its validator) answers it.
  }
  const out = JSON.stringify(engine.adaptRequest(call, value)) ?? '';
  c.req.bodyCache = { text: Promise.resolve(out) } as unknown as typeof c.req.bodyCache;
  const headers = new Headers(raw.headers);
  headers.delete('content-length');
  c.req.raw = new Request(raw.url, { method: raw.method, headers, body: out });
}

/** Rebuild a JSON response of the newest version in the call's version's shape. */
async function adaptResponse(c: Context, engine: ApiEngine, call: Call): Promise<void> {
  const res = c.res;
  if (!isAdaptedStatus(res.status) || !isAdaptedType(res.headers.get('content-type'))) return;
  let body = await res.text();
  if (body.trim() !== '') {
    let value: unknown;
    let parsed = true;
    try {
      value = JSON.parse(body);
    } catch {
      parsed = false;
    }
    if (parsed) body = JSON.stringify(engine.adaptResponse(call, value)) ?? 'null';
  }
  const headers = new Headers(res.headers);
  headers.delete('content-length');
  // Unset first: assigning over a response would copy its stale headers onto the new one.
  c.res = undefined;
  c.res = new Response(body, { status: res.status, statusText: res.statusText, headers });
}

/** Hono middleware of the versioned API. */
export function honoMiddleware(engine: ApiEngine): MiddlewareHandler<ApiEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    const d = engine.decide(requestOf(raw));
    if (d instanceof Rejection) return new Response(d.body, { status: d.status, headers: d.headers as [string, string][] });
    c.set('ferryApi', d);
    if (!d.adapts) {
      await next();
      return setHeaders(c, d);
    }
    if (raw.method !== 'GET' && raw.method !== 'HEAD' && isJsonType(raw.headers.get('content-type'))) await adaptBody(c, engine, d);
    const jsonRan = wrapJson(c, engine, d);
    await next();
    // A handler that built its JSON response without c.json: parse it and build it again.
    if (!jsonRan()) await adaptResponse(c, engine, d);
    setHeaders(c, d);
  };
}
