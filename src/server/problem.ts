import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { EXIT_CODES, FerryError, type FerryErrorCode } from '../errors.js';

/** Codes of problems: ferry's error codes (the CLI's), and E_FORBIDDEN for an action without the token. */
export type ProblemCode = FerryErrorCode | 'E_FORBIDDEN';

/** An RFC 9457 problem document, as every error of the API is sent (`application/problem+json`). */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  /** ferry's error code, the same as the CLI's. */
  code: ProblemCode;
  /** The CLI's exit status for the same error (absent for E_FORBIDDEN, which the CLI cannot meet). */
  exitCode?: number;
  /** How to fix it. */
  hint?: string;
  instance?: string;
}

/** The HTTP status of each ferry error code. */
const STATUS: Record<ProblemCode, ContentfulStatusCode> = {
  E_USAGE: 400,
  E_CONFIG: 400,
  E_MANIFEST: 422,
  E_NOT_FOUND: 404,
  E_CONNECT: 503,
  E_LOCKED: 409,
  E_DRIFT: 409,
  E_GATE: 409,
  E_POINT_OF_NO_RETURN: 409,
  E_STEP: 500,
  E_VERIFY: 409,
  E_REHEARSE: 409,
  E_BACKFILL: 409,
  E_LINT: 409,
  E_HEALTH_YELLOW: 409,
  E_HEALTH_RED: 409,
  E_HEALTH_NO_DATA: 409,
  E_DATA_LOSS: 409,
  E_FLEET: 409,
  E_INTERNAL: 500,
  E_FORBIDDEN: 403,
};

/** Database URLs (even without a password) never leave the server: they name hosts, ports and users. */
const redact = (text: string) => text.replace(/\b(?:postgres(?:ql)?:\/\/|pglite:)[^\s'"`)]+?(?=[:,.;]?(?:[\s'"`)]|$))/gi, '<database>');

/** The problem document of `code`. */
export function problemOf(
  code: ProblemCode,
  detail: string,
  opts: { hint?: string | undefined; instance?: string; status?: ContentfulStatusCode } = {},
): Problem {
  const status = opts.status ?? STATUS[code];
  const p: Problem = {
    type: `https://github.com/ferry/ferry/blob/main/README.md#${code.toLowerCase().replace(/_/g, '-')}`,
    title: TITLES[code],
    status,
    detail: redact(detail),
    code,
  };
  if (code !== 'E_FORBIDDEN') p.exitCode = EXIT_CODES[code];
  if (opts.hint) p.hint = redact(opts.hint);
  if (opts.instance) p.instance = opts.instance;
  return p;
}

/** Send `problem` as application/problem+json. */
export function sendProblem(c: Context, problem: Problem): Response {
  return c.body(JSON.stringify(problem), problem.status as ContentfulStatusCode, { 'Content-Type': 'application/problem+json' });
}

/** Send ferry error `code` as a problem. */
export function problem(c: Context, code: ProblemCode, detail: string, opts: { hint?: string; status?: ContentfulStatusCode } = {}): Response {
  return sendProblem(c, problemOf(code, detail, { ...opts, instance: new URL(c.req.url).pathname }));
}

/** Thrown by a handler to answer with a problem that is not a FerryError (E_FORBIDDEN). */
export class ProblemError extends Error {
  constructor(
    readonly code: ProblemCode,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** Any error thrown by a handler as a problem: a FerryError keeps its code, message and hint; anything else is E_INTERNAL without its details. */
export function errorProblem(c: Context, err: unknown): Response {
  if (err instanceof FerryError || err instanceof ProblemError) return problem(c, err.code, err.message, err.hint === undefined ? {} : { hint: err.hint });
  return problem(c, 'E_INTERNAL', 'unexpected error', { hint: 'this is a bug in ferry; the server log has the details' });
}

const TITLES: Record<ProblemCode, string> = {
  E_USAGE: 'Bad request',
  E_CONFIG: 'Configuration error',
  E_MANIFEST: 'Invalid migration',
  E_NOT_FOUND: 'Not found',
  E_CONNECT: 'Database unreachable',
  E_LOCKED: 'Locked by another runner',
  E_DRIFT: 'Drift',
  E_GATE: 'Gate refused',
  E_POINT_OF_NO_RETURN: 'Past the point of no return',
  E_STEP: 'Step failed',
  E_VERIFY: 'Verification failed',
  E_REHEARSE: 'Rehearsal failed',
  E_BACKFILL: 'Backfill failed',
  E_LINT: 'Lint refused',
  E_HEALTH_YELLOW: 'Health yellow',
  E_HEALTH_RED: 'Health red',
  E_HEALTH_NO_DATA: 'No health data',
  E_DATA_LOSS: 'Would lose data',
  E_FLEET: 'Fleet run stopped',
  E_INTERNAL: 'Internal error',
  E_FORBIDDEN: 'Forbidden',
};
