import type { IncomingMessage, ServerResponse } from 'node:http';
import { type ApiCall, type ApiEngine, type Call, Rejection } from './engine.js';
import { sendRejection, setCallHeaders } from './node.js';
import { isAdaptedStatus, isAdaptedType, isJsonType } from './request.js';

/**
 * The versioned API as Express middleware (`app.use(api.express())`), described with node's own types so
 * Express stays a development dependency. It answers 400/410 itself, converts `req.body` up to the newest
 * version (whether the JSON body parser runs before it or after it) and wraps `res.json` (which `res.send`
 * of an object goes through) to convert the response down. The handler reads `req.ferryApi`.
 */

/** What the middleware reads and sets on Express's request. */
export interface ExpressApiRequest extends IncomingMessage {
  url: string;
  method: string;
  body?: unknown;
  /** The version asked, the consumer and where the version stands; set by the middleware. */
  ferryApi?: ApiCall;
}

/** What the middleware uses of Express's response: node's, plus `json`. */
export interface ExpressApiResponse extends ServerResponse {
  json(body?: unknown): unknown;
}

/** Express middleware: `(req, res, next)`. */
export type ExpressApiMiddleware = (req: ExpressApiRequest, res: ExpressApiResponse, next: (err?: unknown) => void) => void;

const kEngine = Symbol('ferry.compat.engine');
const kBody = Symbol('ferry.compat.body');
const kJson = Symbol('ferry.compat.json');
const kCall = Symbol('ferry.compat.call');

type Req = ExpressApiRequest & { [kEngine]?: ApiEngine; [kBody]?: unknown };
type Res = ExpressApiResponse & { [kEngine]?: ApiEngine; [kCall]?: Call; [kJson]?: (body?: unknown) => unknown };

/** `req.body` of an old version's JSON request when the body parser runs after the middleware: converted as it is set. */
const BODY: PropertyDescriptor = {
  configurable: true,
  enumerable: true,
  get(this: Req) {
    return this[kBody];
  },
  set(this: Req, value: unknown) {
    this[kBody] = value === undefined ? value : (this[kEngine] as ApiEngine).adaptRequest(this.ferryApi as ApiCall, value);
  },
};

function adaptedJson(this: Res, body?: unknown): unknown {
  const ct = this.getHeader('content-type');
  const call = this[kCall] as Call;
  const out = isAdaptedStatus(this.statusCode) && (ct === undefined || isAdaptedType(ct)) ? (this[kEngine] as ApiEngine).adaptResponse(call, body) : body;
  return (this[kJson] as (body?: unknown) => unknown).call(this, out);
}

/** Express middleware of the versioned API. */
export function expressMiddleware(engine: ApiEngine): ExpressApiMiddleware {
  return (req: Req, res: Res, next) => {
    const d = engine.decide(req);
    if (d instanceof Rejection) return sendRejection(res, d);
    req.ferryApi = d;
    setCallHeaders(res, d);
    if (d.adapts) convert(engine, req, res, d);
    next();
  };
}

function convert(engine: ApiEngine, req: Req, res: Res, call: Call): void {
  if (isJsonType(req.headers['content-type'])) {
    if (req.body !== undefined) req.body = engine.adaptRequest(call, req.body);
    else {
      req[kEngine] = engine;
      Object.defineProperty(req, 'body', BODY);
    }
  }
  res[kEngine] = engine;
  res[kCall] = call;
  res[kJson] = res.json;
  res.json = adaptedJson;
}
