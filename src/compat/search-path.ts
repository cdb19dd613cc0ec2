import type { Pool, PoolClient } from 'pg';
import { quoteIdent } from '../db/quote.js';
import type { FlagAnswers } from '../sdk/flags.js';

/**
 * Which shape an application version reads: the flag that switches it, the schemas of the old and the new
 * shape's views (`ferry_v1_users`, `ferry_v2_users`), and the schemas after them (default `public`).
 * `ferry rollout <id> status --json` prints a migration's shape as `shape`.
 */
export interface AppShape {
  flag: string;
  old: readonly string[];
  new: readonly string[];
  /** Default ["public"]. */
  base?: readonly string[];
}

/**
 * The search path for `unit`: the new shape's schemas first for units in the flag's new cohort, else the old
 * shape's (excluded units too), then `base`. Every schema goes through `quoteIdent`, which always quotes, so
 * the new cohort of `{ new: ['ferry_v2_users'] }` gets `"ferry_v2_users", "public"` — the same path
 * PostgreSQL resolves for `ferry_v2_users, public`, and safe for any schema name.
 */
export function searchPath(flags: FlagAnswers, unit: string, shape: AppShape): string {
  const schemas = flags.cohort(shape.flag, unit) === 'new' ? shape.new : shape.old;
  return [...schemas, ...(shape.base ?? ['public'])].map(quoteIdent).join(', ');
}

/**
 * A `pg` pool whose `connect()` hands out clients with the unit's search path already set (`set_config`, a
 * parameterised statement, session-wide); `release()` runs `RESET search_path` before the client goes back
 * to the pool (a client whose reset fails is destroyed instead). Connection-string options are not used:
 * PgBouncer refuses them.
 */
export function shapedPool(pool: Pool, flags: FlagAnswers, shape: AppShape): { connect(unit: string): Promise<PoolClient> } {
  return {
    async connect(unit) {
      const client = await pool.connect();
      try {
        await client.query(`SELECT set_config('search_path', $1, false)`, [searchPath(flags, unit, shape)]);
      } catch (err) {
        client.release(err instanceof Error ? err : true);
        throw err;
      }
      // The pool gives every checkout a release function of its own; wrap this one.
      const release = client.release.bind(client);
      let released = false;
      client.release = (err?: Error | boolean) => {
        if (released) throw new Error('Release called on client which has already been released to the pool.');
        released = true;
        if (err) return release(err);
        const back = (e?: Error | boolean) => {
          try {
            release(e);
          } catch {
            // The pool was ended meanwhile: nothing to give back to.
          }
        };
        client.query('RESET search_path').then(
          () => back(),
          (e: unknown) => back(e instanceof Error ? e : true),
        );
      };
      return client;
    },
  };
}
