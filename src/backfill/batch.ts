import type { Database, Queryable } from '../db/database.js';
import { type BatchCheckpoint, type ClaimedRange, lockCheckpoint, writeCheckpoint } from './claims.js';
import { DataFault, isDataError, Rollback, rowJson } from './faults.js';
import { commitsWithoutFlush, type Pacing } from './pacer.js';
import type { BackfillPlan } from './plan.js';
import { batchEnd, batchRows, KEY_ALIAS, type KeyBounds, rangeUpdate, rowsBatch, TODO_ALIAS, todoPredicate, writeRows } from './statements.js';
import type { TransformFn } from './transform.js';

/** What one batch needs besides its range. */
export interface BatchContext {
  db: Database;
  plan: BackfillPlan;
  workerId: string;
  lockTimeoutMs: number;
  transform?: TransformFn;
  /** The pacer's decision in force, recorded with each checkpoint. */
  pacing?: Pacing;
}

/** The outcome of one batch transaction. */
export type BatchResult = { kind: 'committed'; checkpoint: BatchCheckpoint } | { kind: 'stopped'; state: string } | { kind: 'lost' };

async function setLockTimeout(tx: Queryable, ms: number): Promise<void> {
  await tx.query(`SELECT set_config('lock_timeout', $1, true)`, [`${ms}ms`]);
}

/**
 * Fill one batch with SQL expressions: find the key the next `limit` keys end
 * at, then update the rows of that key range still matching `predicate` —
 * two statements of the caller's transaction (a range scan plans and runs
 * faster than updating a list of keys).
 */
export async function fillRange(tx: Queryable, plan: BackfillPlan, set: Record<string, string>, predicate: string, b: KeyBounds, limit: number) {
  const end = batchEnd(plan, b, limit);
  const { rows } = await tx.query<{ walked: number; last_key: string[] | null }>(end.text, end.params);
  const walked = rows[0]?.walked ?? 0;
  const lastKey = rows[0]?.last_key ?? null;
  if (walked === 0 || !lastKey) return { updated: 0, walked: 0, lastKey: null };
  const u = rangeUpdate(plan, set, predicate, { after: b.after, upTo: lastKey });
  const { affectedRows } = await tx.query(u.text, u.params);
  return { updated: affectedRows ?? 0, walked, lastKey };
}

/** Fill the batch's rows with the step's SQL expressions. */
const sqlFill = (tx: Queryable, plan: BackfillPlan, b: KeyBounds, limit: number) =>
  fillRange(tx, plan, plan.target.spec.set ?? {}, todoPredicate(plan.target.spec.where), b, limit);

/** Fill the batch's rows with the TypeScript transform: read them locked, transform, write back by key. */
async function transformFill(tx: Queryable, plan: BackfillPlan, transform: TransformFn, b: KeyBounds, limit: number) {
  const s = rowsBatch(plan, todoPredicate(plan.target.spec.where), b, limit);
  const { rows } = await tx.query<Record<string, unknown>>(s.text, s.params);
  const groups = new Map<string, Record<string, unknown>[]>();
  const writable = new Set(plan.columns.filter((c) => !plan.key.some((k) => k.name === c)));
  let updated = 0;
  for (const r of rows) {
    const key = r[KEY_ALIAS] as string[];
    if (!r[TODO_ALIAS]) continue;
    const row = { ...r };
    delete row[KEY_ALIAS];
    delete row[TODO_ALIAS];
    let values: Record<string, unknown>;
    try {
      values = await transform(row);
    } catch (err) {
      throw new DataFault(key, rowJson(row), `transform threw: ${err instanceof Error ? err.message : String(err)}`);
    }
    const cols = Object.keys(values ?? {}).sort();
    const bad = cols.find((c) => !writable.has(c));
    if (bad !== undefined || cols.length === 0) {
      throw new DataFault(
        key,
        rowJson(row),
        bad === undefined ? 'transform returned no columns' : `transform returned "${bad}", which is not a column it may fill`,
      );
    }
    const out: Record<string, unknown> = { ...values };
    for (const [i, k] of plan.key.entries()) out[k.name] = key[i];
    const sig = cols.join('\0');
    groups.set(sig, [...(groups.get(sig) ?? []), out]);
    updated++;
  }
  for (const [sig, group] of groups) {
    const w = writeRows(plan, sig.split('\0'), group);
    await tx.query(w.text, w.params);
  }
  const last = rows.at(-1)?.[KEY_ALIAS] as string[] | undefined;
  return { updated, walked: rows.length, lastKey: last ?? null };
}

/**
 * Run one batch as one short transaction under lock_timeout: lock the range's
 * checkpoint (still ours? still running?), fill the next `limit` keys after
 * it, and advance the checkpoint in the same transaction — so what is
 * recorded as done is exactly what is in the data, whenever the process dies.
 */
export async function runBatch(ctx: BatchContext, range: ClaimedRange, limit: number, retries: number, throttledBy: string | null): Promise<BatchResult> {
  const started = performance.now();
  return ctx.db.transaction(async (tx): Promise<BatchResult> => {
    // Without waiting for the flush (see commitsWithoutFlush), a server crash can only lose whole batches with their
    // checkpoints (they commit together), which the next run redoes; under load, the session's own setting.
    const loaded = !commitsWithoutFlush(ctx.pacing);
    await tx.query(
      `SELECT set_config('lock_timeout', $1, true), set_config('synchronous_commit', CASE WHEN $2 THEN current_setting('synchronous_commit') ELSE 'off' END, true)`,
      [`${ctx.lockTimeoutMs}ms`, loaded],
      { prepare: true },
    );
    const cp = await lockCheckpoint(tx, ctx.plan.target, range.rangeNo, ctx.workerId);
    if (!cp) return { kind: 'lost' };
    if (cp.state !== 'running') return { kind: 'stopped', state: cp.state };
    const bounds: KeyBounds = { after: cp.lastKey ?? cp.lowerKey, upTo: cp.upperKey };
    const r = ctx.transform ? await transformFill(tx, ctx.plan, ctx.transform, bounds, limit) : await sqlFill(tx, ctx.plan, bounds, limit);
    const checkpoint: BatchCheckpoint = {
      lastKey: r.lastKey,
      updated: r.updated,
      walked: r.walked,
      retries,
      batchSize: limit,
      elapsedMs: performance.now() - started,
      throttledBy,
      pacing: ctx.pacing ?? null,
      done: r.walked < limit,
    };
    await writeCheckpoint(tx, ctx.plan.target, range.rangeNo, checkpoint, ctx.workerId);
    range.lastKey = r.lastKey ?? range.lastKey;
    return { kind: 'committed', checkpoint };
  });
}

/**
 * After a batch failed on its data: walk the same keys one row at a time in a
 * transaction that is always rolled back, to name the row that fails. Returns
 * undefined when every row passes alone (the failure was not one row's).
 */
export async function findFaultyRow(ctx: BatchContext, range: ClaimedRange, limit: number): Promise<DataFault | undefined> {
  let fault: DataFault | undefined;
  await ctx.db
    .transaction(async (tx) => {
      await setLockTimeout(tx, ctx.lockTimeoutMs);
      const { rows } = await tx.query<{ last_key: string[] | null; lower_key: string[] | null; upper_key: string[] | null }>(
        'SELECT last_key, lower_key, upper_key FROM ferry.backfill_ranges WHERE migration_id = $1 AND step_id = $2 AND range_no = $3',
        [ctx.plan.target.migrationId, ctx.plan.target.stepId, range.rangeNo],
      );
      const cp = rows[0];
      let after = cp ? (cp.last_key ?? cp.lower_key) : range.lastKey;
      const upTo = cp ? cp.upper_key : range.upperKey;
      for (let i = 0; i < limit; i++) {
        await tx.query('SAVEPOINT ferry_row');
        try {
          const one = ctx.transform ? await transformFill(tx, ctx.plan, ctx.transform, { after, upTo }, 1) : await sqlFill(tx, ctx.plan, { after, upTo }, 1);
          if (one.walked === 0 || !one.lastKey) break;
          after = one.lastKey;
          await tx.query('RELEASE SAVEPOINT ferry_row');
        } catch (err) {
          await tx.query('ROLLBACK TO SAVEPOINT ferry_row');
          if (err instanceof DataFault) fault = err;
          else if (isDataError(err)) {
            const s = batchRows(ctx.plan, { after, upTo }, 1);
            const row = (await tx.query<{ key: string[]; row: string }>(s.text, s.params)).rows[0];
            fault = new DataFault(row?.key ?? [], rowJson(JSON.parse(row?.row ?? 'null')), (err as Error).message);
          } else throw err;
          break;
        }
      }
      throw new Rollback();
    })
    .catch((err) => {
      if (!(err instanceof Rollback)) throw err;
    });
  return fault;
}
