/** One row set returned by a query. */
export interface QueryResult<R = Record<string, unknown>> {
  rows: R[];
  /** Rows affected by INSERT/UPDATE/DELETE, when the engine reports it. */
  affectedRows?: number;
  /** Column names, in order. */
  fields: string[];
}

/** How to send one parameterised statement. */
export interface QueryOptions {
  /**
   * The session sends this text again and again (a step's bookkeeping): a server
   * parses and plans it once, as a named prepared statement of the session. PGlite,
   * in-process, runs it as any other. Only for text ferry wrote, with a fixed
   * result shape: a prepared statement outlives the transaction.
   */
  prepare?: boolean;
}

/** Something SQL can be sent to: a whole database or one open transaction. */
export interface Queryable {
  /** Run one parameterised statement. */
  query<R = Record<string, unknown>>(sql: string, params?: readonly unknown[], opts?: QueryOptions): Promise<QueryResult<R>>;
  /** Run a script of one or more statements without parameters; one result per statement. */
  exec(sql: string): Promise<QueryResult[]>;
}

/** Which engine a {@link Database} talks to. */
export type DriverKind = 'server' | 'pglite';

/**
 * The one seam between ferry and PostgreSQL. Two drivers implement it: a
 * PostgreSQL server through node-postgres and embedded PGlite.
 */
export interface Database extends Queryable {
  readonly kind: DriverKind;
  /** Human description of the target (URL without password, or data directory). */
  readonly target: string;
  /** Run `fn` inside one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * Hold the session-level advisory lock `key` while `fn` runs. Waits up to
   * `waitMs` for it, then fails with E_LOCKED naming the holder.
   */
  withAdvisoryLock<T>(key: bigint, waitMs: number, fn: () => Promise<T>): Promise<T>;
  /** Subscribe to NOTIFY on `channel`; resolves to an unsubscribe function. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  /**
   * Open another session to the same server, named `applicationName` (a server only: PGlite is one
   * session). The caller closes it.
   */
  openSession?(applicationName: string): Promise<Database>;
  /** Close every connection and file the driver holds. */
  close(): Promise<void>;
}
