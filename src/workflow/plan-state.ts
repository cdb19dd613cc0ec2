import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import type { AppliedStep, MigrationRecord } from '../migration/state.js';

/** One way the files and the database disagree about an applied step. */
export interface Drift {
  migrationId: string;
  stepId?: string;
  problem: string;
}

/** A migration seen from both sides: its files and what the database recorded. */
export interface MigrationView {
  migration: Migration;
  record: MigrationRecord | undefined;
  applied: AppliedStep[];
  /** Steps `up` would run: not applied and not contract-phase. */
  pending: Step[];
  /** Contract-phase steps not applied yet: `ferry contract` runs them, after verification. */
  contractPending: Step[];
  drift: Drift[];
}

/** Compare files with the database's record of one migration. */
export function viewOf(migration: Migration, record: MigrationRecord | undefined, applied: AppliedStep[]): MigrationView {
  const drift: Drift[] = [];
  const byId = new Map(migration.steps.map((s) => [s.id, s]));
  for (const a of applied) {
    const step = byId.get(a.stepId);
    if (!step) drift.push({ migrationId: migration.id, stepId: a.stepId, problem: `step ${a.stepId} is applied but no longer in the manifest` });
    else if (step.checksum !== a.checksum) {
      drift.push({
        migrationId: migration.id,
        stepId: a.stepId,
        problem: `step ${a.stepId} was edited after it was applied (checksum ${a.checksum.slice(0, 12)} → ${step.checksum.slice(0, 12)})`,
      });
    }
  }
  const appliedIds = new Set(applied.map((a) => a.stepId));
  const notApplied = migration.steps.filter((s) => !appliedIds.has(s.id));
  const pending = notApplied.filter((s) => s.phase !== 'contract');
  const contractPending = notApplied.filter((s) => s.phase === 'contract');
  const lastApplied = Math.max(-1, ...migration.steps.filter((s) => appliedIds.has(s.id)).map((s) => s.index));
  for (const p of notApplied) {
    if (p.index < lastApplied) {
      drift.push({
        migrationId: migration.id,
        stepId: p.id,
        problem: `step ${p.id} is not applied but a later step is (was it inserted after the migration ran?)`,
      });
    }
  }
  return { migration, record, applied, pending, contractPending, drift };
}

/** Drift of migrations with applied steps whose folder is gone (one with nothing applied left no trace worth keeping). */
export function orphanDrift(applied: Map<string, unknown[]>, migrations: Migration[]): Drift[] {
  const ids = new Set(migrations.map((m) => m.id));
  return [...applied]
    .filter(([id, steps]) => steps.length > 0 && !ids.has(id))
    .map(([id, steps]) => ({ migrationId: id, problem: `migration ${id} has ${steps.length} applied step(s) but its folder is missing` }));
}

/** Refuse to go on when any of `views` has drift. */
export function refuseDrift(views: MigrationView[]): void {
  const drift = views.flatMap((v) => v.drift);
  if (drift.length === 0) return;
  throw new FerryError(
    'E_DRIFT',
    `the migration files no longer match what was applied:\n  ${drift.map((d) => d.problem).join('\n  ')}`,
    'restore the applied files from version control (put changes in a new step or migration), or roll the step back with the original files first',
    { drift },
  );
}

/** Pick migrations by id: all of them when `id` is undefined; E_NOT_FOUND for an unknown id. */
export function selectMigrations(all: Migration[], id: string | undefined): Migration[] {
  if (id === undefined) return all;
  const exact = all.find((m) => m.id === id);
  if (exact) return [exact];
  const byName = all.filter((m) => m.id.replace(/^\d+_/, '') === id);
  if (byName.length === 1) return byName;
  const known = all.map((m) => m.id).join(', ') || '(none)';
  throw new FerryError('E_NOT_FOUND', `no migration with id "${id}"`, `known migrations: ${known}`);
}
