import type { OpenAPIHono } from '@hono/zod-openapi';
import type { Migration } from '../migration/loader.js';
import type { FlagAnswers } from '../sdk/flags.js';
import type { StateTopic } from '../workflow/watch.js';
import type { Database, Workspace } from '../workflow/workspace.js';

/** Subscribers to changes of ferry's state (the pages' live updates, the SSE stream). */
export interface ChangeHub {
  /** Call `fn` with the topics of each change; returns an unsubscribe function. */
  subscribe(fn: (topics: ReadonlySet<StateTopic>) => void): () => void;
  /** Number of open subscriptions (SSE clients). */
  readonly size: number;
}

/** Background work the dashboard started (a backfill run on the embedded database …), keyed by what it does. */
export interface Jobs {
  /** Start `fn` unless a job with `key` runs; resolves false when one already runs. */
  start(key: string, fn: (signal: AbortSignal) => Promise<unknown>): boolean;
  running(key: string): boolean;
  /** The last failure of job `key`, cleared when it starts again. */
  lastError(key: string): string | undefined;
}

/** Everything a request handler of `ferry serve` needs; built once per server by `startServer`. */
export interface ServeContext {
  /** The project, its environment, who runs the server, lock waits and run options. */
  readonly ws: Workspace;
  /** Run `fn` with a database session of its own (several requests run at once; each session is one connection). */
  withDb<T>(fn: (db: Database) => Promise<T>): Promise<T>;
  /**
   * Run `fn` with a session of its own for as long as it takes (a backfill the dashboard started), opened for
   * it and closed after, so long work never holds one of the request sessions; on the embedded database, its one session.
   */
  withOwnDb<T>(fn: (db: Database) => Promise<T>): Promise<T>;
  /** The project's migrations, reread from disk when its files changed (at most once a second). */
  migrations(): Promise<Migration[]>;
  /** Migration `id` (its full id or name), archived ones too; E_NOT_FOUND otherwise. */
  migration(id: string): Promise<Migration>;
  /** The flags as the relay serves them: one LISTEN session, kept fresh in the background. */
  readonly flags: FlagAnswers;
  readonly hub: ChangeHub;
  readonly jobs: Jobs;
  /** The bearer token every action needs. */
  readonly token: string;
  /** Where the server listens, e.g. http://127.0.0.1:4100 (set once it listens). */
  readonly url: string;
  readonly startedAt: Date;
}

/** Hono's typed variables: the context, and who acts (null: not signed in, read-only). */
export interface ServeEnv {
  Variables: {
    ctx: ServeContext;
    actor: string | null;
  };
}

/** The OpenAPI app every route module mounts on. */
export type ServeApp = OpenAPIHono<ServeEnv>;
