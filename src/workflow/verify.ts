import type { Database } from '../db/database.js';
import type { Migration } from '../migration/loader.js';
import { appendEvent, readState, stateExists } from '../migration/state.js';
import { kindOf } from '../migration/step-kinds.js';
import { viewOf } from './plan-state.js';

/** The verify result of one step. */
export interface StepVerification {
  stepId: string;
  applied: boolean;
  /** 'pass' | 'fail' | 'no-check' (the step has no verify) | 'not-applied'. */
  result: 'pass' | 'fail' | 'no-check' | 'not-applied';
  failures: string[];
}

/** The verify result of one migration. */
export interface MigrationVerification {
  migrationId: string;
  phase: string | null;
  steps: StepVerification[];
  /** Every applied step's verify passed. */
  ok: boolean;
  /** Every step is applied and passes: the migration is complete. */
  complete: boolean;
}

/**
 * Run the verify checks of every applied step of `migrations`, each in a
 * read-only transaction that is rolled back, so verification changes nothing.
 */
export async function verifyMigrations(db: Database, migrations: Migration[], opts: { actor: string; record?: boolean }): Promise<MigrationVerification[]> {
  const state = await readState(db);
  const out: MigrationVerification[] = [];
  for (const m of migrations) {
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    const appliedIds = new Set(v.applied.map((a) => a.stepId));
    const steps: StepVerification[] = [];
    for (const step of m.steps) {
      if (!appliedIds.has(step.id)) {
        steps.push({ stepId: step.id, applied: false, result: 'not-applied', failures: [] });
        continue;
      }
      const outcome = await db
        .transaction(async (tx) => {
          await tx.query('SET TRANSACTION READ ONLY');
          const r = await kindOf(step).verify(step, tx, () => {});
          throw new VerifyDone(r);
        })
        .catch((err) => {
          if (err instanceof VerifyDone) return err.outcome;
          return { ok: false, failures: [`${step.id}: verify raised ${(err as Error).message}`] };
        });
      steps.push({
        stepId: step.id,
        applied: true,
        result: outcome === undefined ? 'no-check' : outcome.ok ? 'pass' : 'fail',
        failures: outcome?.failures ?? [],
      });
    }
    const ok = steps.every((s) => s.result !== 'fail');
    const complete = ok && steps.every((s) => s.applied) && v.drift.length === 0;
    out.push({ migrationId: m.id, phase: v.record?.phase ?? null, steps, ok, complete });
    if (opts.record && v.record && (await stateExists(db))) {
      const failed = steps.filter((s) => s.result === 'fail').map((s) => s.stepId);
      await appendEvent(db, {
        migrationId: m.id,
        actor: opts.actor,
        kind: 'verify',
        reason: ok ? `verify passed (${steps.filter((s) => s.result === 'pass').length} checks)` : `verify failed: ${failed.join(', ')}`,
        details: { steps },
      });
    }
  }
  return out;
}

/** Carries a verify outcome out of a transaction that must be rolled back. */
class VerifyDone extends Error {
  constructor(readonly outcome: Awaited<ReturnType<ReturnType<typeof kindOf>['verify']>>) {
    super('verify done');
  }
}
