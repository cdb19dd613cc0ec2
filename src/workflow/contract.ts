import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { ensureState, readState } from '../migration/state.js';
import type { RunReport, UpOptions } from './apply.js';
import { applyStep, MIGRATION_LOCK_KEY, rehearseStepInTransaction } from './execute.js';
import { currentPhase, transition } from './lifecycle.js';
import { refuseDrift, viewOf } from './plan-state.js';

class DryRunRollback extends Error {}

/**
 * Contract a verified migration: run its contract-phase steps (drop the old
 * column, the compat views and the sync triggers …) in order, then move it
 * verified → contracted, its point of no return. Crash-safe like `up`: each
 * step commits with its record, and running it again finishes the rest.
 */
export async function contract(db: Database, m: Migration, opts: Omit<UpOptions, 'requireApproval'>): Promise<RunReport> {
  const report: RunReport = { dryRun: Boolean(opts.dryRun), steps: [], transitions: [] };
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    const state = await readState(db);
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    refuseDrift([v]);
    const phase = v.record?.phase ?? 'planned';
    if (phase === 'contracted' || phase === 'archived') {
      if (v.contractPending.length === 0) return;
    } else if (phase !== 'verified') {
      throw new FerryError(
        'E_GATE',
        `migration ${m.id} is ${phase}; contract removes the old shape for good, so it needs a verified migration`,
        phase === 'rolled-out'
          ? `run \`ferry verify ${m.id}\`: when every check passes it moves to verified`
          : `finish the rollout (\`ferry rollout ${m.id} status\`), verify it, then contract`,
      );
    }
    if (v.pending.length > 0) {
      throw new FerryError(
        'E_GATE',
        `migration ${m.id} has steps not applied (${v.pending.map((s) => s.id).join(', ')}); contract comes after them`,
        `run \`ferry up ${m.id}\` first`,
      );
    }
    if (opts.dryRun) {
      await db
        .transaction(async (tx) => {
          for (const step of v.contractPending) report.steps.push(await rehearseStepInTransaction(tx, m, step, 'forward', opts));
          throw new DryRunRollback();
        })
        .catch((err) => {
          if (!(err instanceof DryRunRollback)) throw err;
        });
      return;
    }
    for (const step of v.contractPending) report.steps.push(await applyStep(db, m, step, opts));
    await db.transaction(async (tx) => {
      const from = await currentPhase(tx, m.id);
      if (from !== 'verified') return;
      const n = m.steps.filter((s) => s.phase === 'contract').length;
      await transition(tx, m.id, 'contracted', {
        actor: opts.actor,
        reason: `old shape removed: ${n} contract step(s) applied; the point of no return is passed`,
      });
      report.transitions.push({ migrationId: m.id, from, to: 'contracted' });
    });
  });
  return report;
}
