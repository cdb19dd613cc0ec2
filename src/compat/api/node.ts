import type { IncomingMessage, OutgoingHttpHeader, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { type ApiCall, type ApiEngine, type Call, Rejection } from './engine.js';
import { PROBLEM_TYPE } from './problem.js';
import { isAdaptedStatus, isAdaptedType, isJsonType } from './request.js';

/**
 * The versioned API for a plain `node:http` handler: `api.node(handler)` decides the version, answers 400/410
 * itself, reads a JSON request body into `req.body` (converted up to the newest version) and, for an old
 * version, holds the response until `end` to convert a JSON body down. The handler reads `req.ferryApi`.
 */

/** The request a wrapped handler gets: the parsed JSON body (for a JSON `Content-Type`; the stream is then consumed) and the call. */
export interface NodeApiRequest extends IncomingMessage {
  /** The JSON request body in the newest version's shape; undefined without a JSON body. */
  body?: unknown;
  /** The version asked, the consumer and where the version stands. */
  ferryApi?: ApiCall;
}

/** A `node:http` handler written against the newest version. */
export type NodeApiHandler = (req: NodeApiRequest, res: ServerResponse) => unknown;

/** Tuning of {@link nodeHandler}. */
export interface NodeApiOptions {
  /** Largest JSON request body read, in bytes; larger ones get 413. Default 1 MiB. */
  bodyLimit?: number;
}

/** Set the call's response headers on a node response (`Vary` appended to what is there). */
export function setCallHeaders(res: ServerResponse, call: Call): void {
  const headers = call.headers;
  for (let i = 0; i < headers.length; i++) {
    const h = headers[i] as readonly [string, string];
    res.setHeader(h[0], h[1]);
  }
  if (call.vary !== null) {
    const prev = res.getHeader('vary');
    res.setHeader('Vary', prev === undefined ? call.vary : `${String(prev)}, ${call.vary}`);
  }
}

/** Answer a rejected request (400 unknown version, 410 disabled) on a node response. */
export function sendRejection(res: ServerResponse, r: Rejection): void {
  res.statusCode = r.status;
  for (const [name, value] of r.headers) res.setHeader(name, value);
  res.end(r.body);
}

function sendProblem(res: ServerResponse, status: number, title: string, detail: string): void {
  if (res.headersSent) return void res.destroy();
  res.statusCode = status;
  res.setHeader('Content-Type', PROBLEM_TYPE);
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail }));
}

class BodyError extends Error {
  constructor(
    readonly status: 400 | 413,
    message: string,
  ) {
    super(message);
  }
}

function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) chunks.push(chunk);
    });
    req.on('error', reject);
    req.on('end', () => {
      if (size > limit) return reject(new BodyError(413, `the request body is larger than ${limit} bytes`));
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return resolve(undefined);
      try {
        resolve(JSON.parse(text));
      } catch {
        reject(new BodyError(400, 'the request body is not valid JSON'));
      }
    });
  });
}

const kHeld = Symbol('ferry.compat.held');

/** The state of a response held until `end` to convert its JSON body. */
interface Held {
  engine: ApiEngine;
  call: Call;
  chunks: Buffer[];
  end: (this: ServerResponse, chunk: Buffer, cb?: () => void) => unknown;
}
type HeldResponse = ServerResponse & { [kHeld]: Held };

const toBuffer = (chunk: unknown, encoding?: BufferEncoding): Buffer =>
  typeof chunk === 'string'
    ? Buffer.from(chunk, encoding ?? 'utf8')
    : Buffer.from((chunk as Uint8Array).buffer, (chunk as Uint8Array).byteOffset, (chunk as Uint8Array).byteLength);

function heldWriteHead(
  this: HeldResponse,
  status: number,
  a?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
  b?: OutgoingHttpHeaders | OutgoingHttpHeader[],
) {
  this.statusCode = status;
  let headers = a;
  if (typeof a === 'string') {
    this.statusMessage = a;
    headers = b;
  }
  if (Array.isArray(headers)) {
    if (Array.isArray(headers[0])) for (const [k, v] of headers as unknown as [string, string][]) this.setHeader(k, v);
    else for (let i = 0; i + 1 < headers.length; i += 2) this.setHeader(String(headers[i]), headers[i + 1] as OutgoingHttpHeader);
  } else if (headers !== undefined && typeof headers === 'object') {
    for (const [k, v] of Object.entries(headers)) if (v !== undefined) this.setHeader(k, v);
  }
  return this;
}

function heldWrite(this: HeldResponse, chunk: unknown, encoding?: BufferEncoding | ((err?: Error | null) => void), cb?: (err?: Error | null) => void): boolean {
  if (typeof encoding === 'function') cb = encoding;
  this[kHeld].chunks.push(toBuffer(chunk, typeof encoding === 'string' ? encoding : undefined));
  if (cb) process.nextTick(cb);
  return true;
}

function heldEnd(this: HeldResponse, chunk?: unknown, encoding?: BufferEncoding | (() => void), cb?: () => void): HeldResponse {
  if (typeof chunk === 'function') {
    cb = chunk as () => void;
    chunk = undefined;
  }
  if (typeof encoding === 'function') cb = encoding;
  const held = this[kHeld];
  // Back to the prototype's methods: what follows writes for real.
  delete (this as Partial<HeldResponse>).write;
  delete (this as Partial<HeldResponse>).writeHead;
  delete (this as Partial<HeldResponse>).end;
  if (chunk !== undefined && chunk !== null) held.chunks.push(toBuffer(chunk, typeof encoding === 'string' ? encoding : undefined));
  let body = Buffer.concat(held.chunks);
  if (body.length > 0 && isAdaptedStatus(this.statusCode) && isAdaptedType(this.getHeader('content-type'))) {
    let value: unknown;
    let parsed = true;
    try {
      value = JSON.parse(body.toString('utf8'));
    } catch {
      parsed = false; // Not JSON after all: sent as it is.
    }
    if (parsed) {
      try {
        body = Buffer.from(JSON.stringify(held.engine.adaptResponse(held.call, value)) ?? 'null');
      } catch (err) {
        held.engine.failed(held.call, err);
        this.statusCode = 500;
        this.setHeader('Content-Type', PROBLEM_TYPE);
        body = Buffer.from(JSON.stringify({ type: 'about:blank', title: 'Internal Server Error', status: 500, detail: 'the response could not be converted' }));
      }
      this.setHeader('Content-Length', body.length);
    }
  }
  held.end.call(this, body, cb);
  return this;
}

/** Hold `res`'s body until `end`, to convert a JSON body of the newest version down to the call's version. */
function hold(res: ServerResponse, engine: ApiEngine, call: Call): void {
  const r = res as HeldResponse;
  r[kHeld] = { engine, call, chunks: [], end: res.end as Held['end'] };
  r.writeHead = heldWriteHead as HeldResponse['writeHead'];
  r.write = heldWrite as HeldResponse['write'];
  r.end = heldEnd as HeldResponse['end'];
}

function run(engine: ApiEngine, handler: NodeApiHandler, req: NodeApiRequest, res: ServerResponse, call: Call): void {
  try {
    const out = handler(req, res);
    if (out !== null && typeof out === 'object' && typeof (out as Promise<unknown>).then === 'function')
      (out as Promise<unknown>).then(undefined, (err: unknown) => fail(engine, res, call, err));
  } catch (err) {
    fail(engine, res, call, err);
  }
}

function fail(engine: ApiEngine, res: ServerResponse, call: Call, err: unknown): void {
  engine.failed(call, err);
  sendProblem(res, 500, 'Internal Server Error', 'the handler failed');
}

/** Wrap a handler written against the newest version into a `node:http` request listener for every version. */
export function nodeHandler(engine: ApiEngine, handler: NodeApiHandler, opts: NodeApiOptions = {}): (req: IncomingMessage, res: ServerResponse) => void {
  const limit = opts.bodyLimit ?? 1024 * 1024;
  return (incoming, res) => {
    const req = incoming as NodeApiRequest;
    const d = engine.decide(req as IncomingMessage & { url: string; method: string });
    if (d instanceof Rejection) return sendRejection(res, d);
    req.ferryApi = d;
    setCallHeaders(res, d);
    if (d.adapts) hold(res, engine, d);
    const method = req.method;
    if (method === 'GET' || method === 'HEAD' || !isJsonType(req.headers['content-type'])) return run(engine, handler, req, res, d);
    readJson(req, limit).then(
      (body) => {
        try {
          req.body = body === undefined ? undefined : engine.adaptRequest(d, body);
        } catch (err) {
          return fail(engine, res, d, err);
        }
        run(engine, handler, req, res, d);
      },
      (err: unknown) => {
        if (err instanceof BodyError) sendProblem(res, err.status, err.status === 413 ? 'Content Too Large' : 'Bad Request', err.message);
        else fail(engine, res, d, err);
      },
    );
  };
}
