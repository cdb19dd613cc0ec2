import { backfillStepSchema, rollbackBackfill, runBackfill } from '../../src/backfill/index.js';
import type { Database, Queryable } from '../../src/db/database.js';
import { RETRYABLE_SQLSTATES, sqlState } from '../../src/errors.js';
import type { OpPart } from '../../src/operations/types.js';

const targetOf = (migrationId: string, part: Extract<OpPart, { kind: 'backfill' }>) => ({
  migrationId,
  stepId: part.name,
  spec: backfillStepSchema.parse({ ...part.backfill, id: part.name, kind: 'backfill', batchSize: { initial: 500, min: 100, max: 5000 }, sleepRatio: 0 }),
});

/** Run one SQL part's statements in a transaction under lock_timeout, retried on lock timeout or deadlock as ferry retries a step. */
async function runSql(db: Database, statements: string[]): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.transaction(async (tx: Queryable) => {
        await tx.exec("SET LOCAL lock_timeout = '2s'");
        for (const s of statements) await tx.exec(s);
      });
      return;
    } catch (err) {
      const state = sqlState(err);
      if (!state || !RETRYABLE_SQLSTATES.has(state) || attempt >= 20) throw err;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

/** Run parts forward the way `ferry up` does: SQL parts in one transaction each (or bare), backfills through the engine. */
export async function applyParts(db: Database, parts: OpPart[], migrationId = 'op_test'): Promise<void> {
  for (const part of parts) {
    if (part.kind === 'backfill') {
      const final = await runBackfill(db, targetOf(migrationId, part), { lockTimeoutMs: 2000 });
      if (final.state !== 'done') throw new Error(`backfill ${part.name} ended ${final.state}`);
    } else if (part.transaction) {
      await runSql(db, part.forward);
    } else {
      for (const s of part.forward) await db.exec(s);
    }
  }
}

/** Undo parts in reverse order, the way `ferry down` does. */
export async function revertParts(db: Database, parts: OpPart[], migrationId = 'op_test'): Promise<void> {
  for (const part of [...parts].reverse()) {
    if (part.kind === 'backfill') await rollbackBackfill(db, targetOf(migrationId, part), { lockTimeoutMs: 2000 });
    else if (part.transaction) await runSql(db, part.rollback);
    else {
      for (const s of part.rollback) await db.exec(s);
    }
  }
}

/** The verify queries of the parts that fail (first column not true), as `part: query`. */
export async function failingChecks(db: Database, parts: OpPart[]): Promise<string[]> {
  const failed: string[] = [];
  for (const part of parts) {
    if (part.kind !== 'sql') continue;
    for (const q of part.verify) {
      const { rows } = await db.query<Record<string, unknown>>(q);
      const first = rows[0] ? Object.values(rows[0])[0] : undefined;
      if (first !== true) failed.push(`${part.name}: ${q}`);
    }
  }
  return failed;
}
