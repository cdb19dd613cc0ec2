import type { IncomingHttpHeaders } from 'node:http';
import { type ApiCall, type ApiEngine, type Call, Rejection } from './engine.js';
import { isAdaptedStatus, isAdaptedType, isJsonType } from './request.js';
import { escapeRegExp } from './select.js';

/**
 * The versioned API as a Fastify plugin (`app.register(api.fastify())`), described with small structural
 * types so Fastify stays a development dependency. Its hooks: `onRequest` decides the version and answers
 * 400/410 itself; `preValidation` converts the parsed body up to the newest version (before the route's
 * schema, written for the newest version, validates it); `preSerialization` converts the response object
 * down. The plugin skips Fastify's encapsulation (`Symbol.for('skip-override')`), so its hooks apply to the
 * context it is registered in: the root, or an encapsulated context that holds only the API's routes.
 * Handlers read `request.ferryApi` (declare it with `declare module 'fastify' { interface FastifyRequest { ferryApi: ApiCall | null } }`).
 */

/** What the plugin reads and sets on Fastify's request. */
export interface FastifyApiRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body?: unknown;
  ferryApi?: ApiCall | null;
}

/** What the plugin uses of Fastify's reply. */
export interface FastifyApiReply {
  statusCode: number;
  header(name: string, value: string): unknown;
  getHeader(name: string): unknown;
  code(status: number): unknown;
  send(payload?: unknown): unknown;
}

type Done = (err?: Error) => void;
type Hook = (request: FastifyApiRequest, reply: FastifyApiReply, done: Done) => void;
type SerializationHook = (request: FastifyApiRequest, reply: FastifyApiReply, payload: unknown, done: (err: Error | null, payload?: unknown) => void) => void;

/** What the plugin uses of a Fastify instance. */
export interface FastifyApiInstance {
  addHook(name: 'onRequest' | 'preValidation', hook: Hook): unknown;
  addHook(name: 'preSerialization', hook: SerializationHook): unknown;
  decorateRequest(name: string, value: null): unknown;
  hasRequestDecorator(name: string): boolean;
  hasContentTypeParser(type: RegExp): boolean;
  addContentTypeParser(type: RegExp, opts: { parseAs: 'string' }, parser: ReturnType<FastifyApiInstance['getDefaultJsonParser']>): unknown;
  getDefaultJsonParser(
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
  ): (request: never, body: string, done: (err: Error | null, body?: unknown) => void) => void;
}

/** A Fastify plugin (callback style) that skips encapsulation. */
export type FastifyApiPlugin = ((instance: FastifyApiInstance, opts: unknown, done: Done) => void) & { [key: symbol]: unknown };

/** The Fastify plugin of the versioned API. */
export function fastifyPlugin(engine: ApiEngine): FastifyApiPlugin {
  const onRequest: Hook = (request, reply, done) => {
    let d: Call | Rejection;
    try {
      d = engine.decide(request);
    } catch (err) {
      return done(err as Error);
    }
    if (d instanceof Rejection) {
      reply.code(d.status);
      for (const [name, value] of d.headers) reply.header(name, value);
      reply.send(d.body);
      return;
    }
    request.ferryApi = d;
    const headers = d.headers;
    for (let i = 0; i < headers.length; i++) {
      const h = headers[i] as readonly [string, string];
      reply.header(h[0], h[1]);
    }
    if (d.vary !== null) {
      const prev = reply.getHeader('vary');
      reply.header('Vary', prev === undefined ? d.vary : `${String(prev)}, ${d.vary}`);
    }
    done();
  };
  const preValidation: Hook = (request, _reply, done) => {
    const call = request.ferryApi;
    if (call?.adapts && request.body !== undefined && isJsonType(request.headers['content-type'])) {
      try {
        request.body = engine.adaptRequest(call, request.body);
      } catch (err) {
        return done(err as Error);
      }
    }
    done();
  };
  const preSerialization: SerializationHook = (request, reply, payload, done) => {
    const call = request.ferryApi;
    if (!call?.adapts || !isAdaptedStatus(reply.statusCode)) return done(null, payload);
    const ct = reply.getHeader('content-type');
    if (ct !== undefined && !isAdaptedType(ct as string)) return done(null, payload);
    let out: unknown;
    try {
      out = engine.adaptResponse(call, payload);
    } catch (err) {
      return done(err as Error);
    }
    done(null, out);
  };
  const vnd = new RegExp(`^application/vnd\\.${escapeRegExp(engine.name)}\\.[^+;,\\s]+\\+json`, 'i');
  const plugin = (instance: FastifyApiInstance, _opts: unknown, done: Done) => {
    if (!instance.hasRequestDecorator('ferryApi')) instance.decorateRequest('ferryApi', null);
    // Fastify parses only application/json; a body sent as the API's own media type is JSON too.
    if (!instance.hasContentTypeParser(vnd)) instance.addContentTypeParser(vnd, { parseAs: 'string' }, instance.getDefaultJsonParser('error', 'error'));
    instance.addHook('onRequest', onRequest);
    instance.addHook('preValidation', preValidation);
    instance.addHook('preSerialization', preSerialization);
    done();
  };
  return Object.assign(plugin, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: `ferry-compat-${engine.name}` });
}
