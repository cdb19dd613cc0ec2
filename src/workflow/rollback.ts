import { join } from 'node:path';
import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { type AppliedStep, ensureState, readState } from '../state/store.js';
import type { RunReport, UpOptions } from './apply.js';
import { countRollbackLoss, type LossCount, lossName, refuseDataLoss } from './data-loss.js';
import { MIGRATION_LOCK_KEY, rehearseSteps, revertStep } from './execute.js';
import { currentPhase, findTransition, type Phase, transition } from './lifecycle.js';
import { missingFolders, refuseDrift, viewOf } from './plan-state.js';
import { asApplied, type GuardFacts, guardFacts } from './recorded.js';
import { type SavedCopy, saveRollbackValues } from './rollback-copy.js';

/** Options of `down`. */
export interface DownOptions extends Omit<UpOptions, 'requireApproval'> {
  /** Roll back the steps after this one; it stays applied. Default: every step. */
  to?: string;
  /**
   * When the rollback would drop values the old shape cannot regenerate (see `countRollbackLoss`):
   * `refuse` (the default, E_DATA_LOSS), `save` them into a rollback copy first and go on
   * (`--accept-data-loss`), or `ignore` them (a scratch copy, as in a rehearsal).
   */
  dataLoss?: 'refuse' | 'save' | 'ignore';
  /** Where `save` writes the copy; default `.ferry/backups` under the current directory. */
  backupDir?: string;
}

/** What `down` did, with the values its rollback drops (counted before anything changed) and where it saved them. */
export interface DownReport extends RunReport {
  dataLoss: LossCount[];
  saved?: SavedCopy;
}

/**
 * The applied steps `down` would undo, last first, after checking the point of
 * no return and the irreversible and contract steps — as the database recorded
 * them when the steps were applied, not as the files say now.
 */
export function stepsToRollBack(m: Migration, appliedIds: Set<string>, to: string | undefined, facts: GuardFacts): Step[] {
  let floor = -1;
  if (to !== undefined) {
    const target = m.steps.find((s) => s.id === to);
    if (!target) throw new FerryError('E_NOT_FOUND', `migration ${m.id} has no step "${to}"`, `its steps: ${m.steps.map((s) => s.id).join(', ')}`);
    if (!appliedIds.has(to))
      throw new FerryError(
        'E_GATE',
        `step ${to} of ${m.id} is not applied, so there is nothing to roll back to`,
        'run `ferry status` to see which steps are applied',
      );
    floor = target.index;
  }
  const steps = m.steps.filter((s) => s.index > floor && appliedIds.has(s.id)).reverse();
  const ponr = facts.pointOfNoReturn;
  const ponrStep = ponr === null ? undefined : m.steps.find((s) => s.id === ponr);
  if (ponrStep && appliedIds.has(ponrStep.id) && steps.some((s) => s.index <= ponrStep.index)) {
    const after = m.steps.filter((s) => s.index > ponrStep.index && appliedIds.has(s.id));
    throw new FerryError(
      'E_POINT_OF_NO_RETURN',
      `migration ${m.id} has passed its point of no return (step ${ponrStep.id} is applied); rolling back past it would lose data`,
      after.length
        ? `you can still roll back the steps after it: \`ferry down ${m.id} --to ${ponrStep.id}\`; beyond that, restore from backup`
        : 'beyond this point the only way back is restoring from backup',
    );
  }
  const contract = steps.find((s) => facts.contract.has(s.id));
  if (contract) {
    throw new FerryError(
      'E_POINT_OF_NO_RETURN',
      `step ${contract.id} of ${m.id} is a contract step and applied: the old shape is gone, so down cannot go past it`,
      'restore from backup (the full tier of the rollback plan)',
    );
  }
  const irreversible = steps.find((s) => facts.irreversible.has(s.id));
  if (irreversible) {
    throw new FerryError(
      'E_POINT_OF_NO_RETURN',
      `step ${irreversible.id} of ${m.id} is irreversible and applied, so down cannot go past it`,
      `roll back only the steps after it with \`ferry down ${m.id} --to ${irreversible.id}\`, or restore from backup`,
    );
  }
  return steps;
}

/**
 * Refuse `down` without an id when a later applied migration's folder is in the
 * archive: the latest migration is not among those it can see, so it would
 * roll back an earlier one instead.
 */
function refuseSkippingArchived(state: { applied: Map<string, AppliedStep[]> }, migrations: Migration[], chosen: Migration): void {
  const known = new Set(migrations.map((x) => x.id));
  const later = [...state.applied].filter(([x, steps]) => steps.length > 0 && !known.has(x) && x > chosen.id).map(([x]) => x);
  if (later.length === 0) return;
  throw new FerryError(
    'E_GATE',
    `the latest applied migration is ${later.at(-1)} (archived), not ${chosen.id}; down without an id would skip it`,
    `name the migration to roll back: \`ferry down ${chosen.id}\``,
  );
}

/**
 * Roll back the applied steps of one migration (the latest applied one when
 * `id` is undefined) in reverse order, each with its record, under the lock.
 * Values the rollback would drop for good are counted first: refused, saved
 * (then dropped) or ignored as `opts.dataLoss` says.
 */
export async function down(db: Database, migrations: Migration[], id: string | undefined, opts: DownOptions): Promise<DownReport> {
  const report: DownReport = { dryRun: Boolean(opts.dryRun), steps: [], transitions: [], dataLoss: [] };
  const plan = async () => {
    const state = await readState(db);
    refuseDrift([], missingFolders(state, migrations, opts.archived));
    const m = id === undefined ? [...migrations].reverse().find((x) => (state.applied.get(x.id)?.length ?? 0) > 0) : migrations.find((x) => x.id === id);
    if (!m) return undefined;
    if (id === undefined) refuseSkippingArchived(state, migrations, m);
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    refuseDrift([v]);
    const applied = new Map(v.applied.map((a) => [a.stepId, a]));
    const facts = guardFacts(m, v.record, v.applied);
    const steps = stepsToRollBack(m, new Set(applied.keys()), opts.to, facts).map((s) => asApplied(s, applied.get(s.id)));
    const phase = v.record?.phase as Phase | undefined;
    if (steps.length && phase && !findTransition(phase, 'rolled-back') && phase !== 'rolled-back') {
      throw new FerryError(
        'E_POINT_OF_NO_RETURN',
        `migration ${m.id} is ${phase}; it can no longer be rolled back with down`,
        'restore from backup (the full tier of the rollback plan)',
      );
    }
    return { m, steps, applied };
  };
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    const p = await plan();
    if (!p || p.steps.length === 0) return;
    const mode = opts.dataLoss ?? 'refuse';
    if (mode !== 'ignore') report.dataLoss = await countRollbackLoss(db, p.steps, opts.lockTimeoutMs);
    if (!opts.dryRun && mode === 'refuse') refuseDataLoss(p.m.id, report.dataLoss, `ferry down ${p.m.id}${opts.to ? ` --to ${opts.to}` : ''}`);
    if (!opts.dryRun && mode === 'save' && report.dataLoss.length > 0) {
      // Listed in ferry.backups before the first drop: a crash from here on loses nothing, and a rerun refreshes this copy.
      report.saved = await saveRollbackValues(
        db,
        p.m,
        p.steps.map((step) => ({ step, applied: p.applied.get(step.id) })),
        report.dataLoss,
        { dir: opts.backupDir ?? join(process.cwd(), '.ferry', 'backups'), actor: opts.actor },
      );
      for (const o of report.saved.objects) {
        const message = `saved ${o.rows} row${o.rows === 1 ? '' : 's'} of ${lossName(o)} in backup ${report.saved.id} before dropping them`;
        opts.onProgress?.({ type: 'log', migrationId: p.m.id, stepId: o.stepId, message });
      }
    }
    if (opts.dryRun) {
      report.steps.push(...(await rehearseSteps(db, p.m, p.steps, 'rollback', opts)));
      return;
    }
    for (const step of p.steps) report.steps.push(await revertStep(db, p.m, step, opts));
    await db.transaction(async (tx) => {
      const from = await currentPhase(tx, p.m.id);
      if (from === 'rolled-back') return;
      const last = p.steps.at(-1) as Step;
      const reason = opts.to ? `rolled back to step ${opts.to}` : `rolled back all steps (down to before ${last.id})`;
      await transition(tx, p.m.id, 'rolled-back', { actor: opts.actor, reason });
      report.transitions.push({ migrationId: p.m.id, from, to: 'rolled-back' });
    });
  });
  return report;
}
