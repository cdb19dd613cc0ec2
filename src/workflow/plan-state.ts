import { FerryError } from '../errors.js';
import type { LoadOptions, Migration, Step } from '../migration/loader.js';
import { projectParseCache } from '../migration/parse-cache.js';
import type { Project } from '../project/config.js';
import type { AppliedStep, MigrationRecord } from '../state/store.js';

/** What kind of disagreement between the files and the database a drift is. */
export type DriftKind =
  | 'edited'
  | 'rollback-edited'
  | 'verify-edited'
  | 'manifest-edited'
  | 'point-of-no-return'
  | 'removed'
  | 'reordered'
  | 'inserted'
  | 'missing-folder';

/** One way the files and the database disagree about an applied migration. */
export interface Drift {
  migrationId: string;
  stepId?: string;
  kind: DriftKind;
  problem: string;
  /**
   * Whether `ferry acknowledge` may accept it as a reviewed fix (a rollback, a
   * verify, a manifest field other than the point of no return); otherwise
   * only restoring the files ends it.
   */
  acknowledgeable: boolean;
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

const short = (c: string) => c.slice(0, 12);

/**
 * How one applied step differs from its file: by its recorded definition, or (recorded before ferry kept definitions) its forward checksum.
 * An op step applied as an earlier ferry compiled it is compared with that generation: ferry generating other SQL is no edit.
 */
function stepDrift(m: Migration, step: Step, a: AppliedStep): Drift[] {
  const at = { migrationId: m.id, stepId: a.stepId };
  const generations = [{ checksum: step.checksum, definition: step.definition }, ...(step.previous ?? [])];
  if (!a.definition) {
    if (generations.some((g) => g.checksum === a.checksum)) return [];
    return [
      {
        ...at,
        kind: 'edited',
        acknowledgeable: false,
        problem: `step ${a.stepId} was edited after it was applied (checksum ${short(a.checksum)} → ${short(step.checksum)})`,
      },
    ];
  }
  const out: Drift[] = [];
  const recorded = a.definition;
  const now = generations.find((g) => g.definition.body === recorded.body)?.definition ?? step.definition;
  if (now.body !== a.definition.body) {
    out.push({
      ...at,
      kind: 'edited',
      acknowledgeable: false,
      problem: `step ${a.stepId} was edited after it was applied (its SQL, kind or flags; ${short(a.definition.body)} → ${short(now.body)})`,
    });
  }
  if (now.rollback !== a.definition.rollback) {
    out.push({
      ...at,
      kind: 'rollback-edited',
      acknowledgeable: true,
      problem: `the rollback of step ${a.stepId} was edited after the step was applied (${short(a.definition.rollback)} → ${short(now.rollback)}); down runs the recorded one until the edit is acknowledged`,
    });
  }
  if (now.verify !== a.definition.verify) {
    out.push({
      ...at,
      kind: 'verify-edited',
      acknowledgeable: true,
      problem: `the verify SQL of step ${a.stepId} was edited after the step was applied (${short(a.definition.verify)} → ${short(now.verify)})`,
    });
  }
  return out;
}

/** How the manifest differs from the one recorded with the first applied step. */
function manifestDrift(m: Migration, record: MigrationRecord): Drift[] {
  const at = { migrationId: m.id };
  const out: Drift[] = [];
  const recorded = record.definition ?? {};
  if (record.pointOfNoReturn !== m.manifest.pointOfNoReturn) {
    out.push({
      ...at,
      kind: 'point-of-no-return',
      acknowledgeable: false,
      problem: `the manifest's pointOfNoReturn was changed after the migration was applied (recorded ${JSON.stringify(record.pointOfNoReturn)}, now ${JSON.stringify(m.manifest.pointOfNoReturn)}); down obeys the recorded one`,
    });
  }
  const fields = [...new Set([...Object.keys(recorded), ...Object.keys(m.definition)])].sort();
  const changed = fields.filter((f) => recorded[f] !== m.definition[f]);
  if (changed.length) {
    out.push({
      ...at,
      kind: 'manifest-edited',
      acknowledgeable: true,
      problem: `the manifest was edited after the migration was applied (field${changed.length === 1 ? '' : 's'} ${changed.join(', ')})`,
    });
  }
  return out;
}

/** Compare files with the database's record of one migration. */
export function viewOf(migration: Migration, record: MigrationRecord | undefined, applied: AppliedStep[]): MigrationView {
  const drift: Drift[] = [];
  const at = { migrationId: migration.id };
  const byId = new Map(migration.steps.map((s) => [s.id, s]));
  for (const a of applied) {
    const step = byId.get(a.stepId);
    if (!step)
      drift.push({ ...at, stepId: a.stepId, kind: 'removed', acknowledgeable: false, problem: `step ${a.stepId} is applied but no longer in the manifest` });
    else drift.push(...stepDrift(migration, step, a));
  }
  if (record?.definition && applied.length > 0) drift.push(...manifestDrift(migration, record));
  const inFileOrder = [...applied]
    .sort((x, y) => x.position - y.position)
    .map((a) => byId.get(a.stepId)?.index ?? -1)
    .filter((i) => i >= 0);
  if (inFileOrder.some((i, k) => k > 0 && i < (inFileOrder[k - 1] as number))) {
    drift.push({
      ...at,
      kind: 'reordered',
      acknowledgeable: false,
      problem: `the applied steps were reordered in the manifest after they ran; down would undo them in the wrong order`,
    });
  }
  const appliedIds = new Set(applied.map((a) => a.stepId));
  const notApplied = migration.steps.filter((s) => !appliedIds.has(s.id));
  const pending = notApplied.filter((s) => s.phase !== 'contract');
  const contractPending = notApplied.filter((s) => s.phase === 'contract');
  const lastApplied = Math.max(-1, ...migration.steps.filter((s) => appliedIds.has(s.id)).map((s) => s.index));
  for (const p of notApplied) {
    if (p.index < lastApplied) {
      drift.push({
        ...at,
        stepId: p.id,
        kind: 'inserted',
        acknowledgeable: false,
        problem: `step ${p.id} is not applied but a later step is (was it inserted after the migration ran?)`,
      });
    }
  }
  return { migration, record, applied, pending, contractPending, drift };
}

/**
 * Drift of applied migrations whose folders are gone (one with nothing applied
 * left no trace worth keeping). A migration archived here (phase archived) or
 * whose folder is in the archive (`archived`: archived in another environment,
 * or a cleanup that stopped after moving it) is not missing.
 */
export function missingFolders(
  state: { migrations: Map<string, MigrationRecord>; applied: Map<string, AppliedStep[]> },
  migrations: Migration[],
  archived: readonly string[] = [],
): Drift[] {
  const ids = new Set([...migrations.map((m) => m.id), ...archived]);
  return [...state.applied]
    .filter(([id, steps]) => steps.length > 0 && !ids.has(id) && state.migrations.get(id)?.phase !== 'archived')
    .map(([id, steps]) => ({
      migrationId: id,
      kind: 'missing-folder' as const,
      acknowledgeable: false,
      problem: `migration ${id} has ${steps.length} applied step(s) but its folder ${id} is missing from the migrations folder`,
    }));
}

/** The fix for a set of drift problems: restore, acknowledge, or forget, as each allows. */
export function driftHint(drift: readonly Drift[]): string {
  const fixes: string[] = [];
  const missing = [...new Set(drift.filter((d) => d.kind === 'missing-folder').map((d) => d.migrationId))];
  if (missing.length) {
    fixes.push(
      `restore the missing folder${missing.length === 1 ? '' : 's'} (${missing.join(', ')}) from version control (e.g. \`git checkout -- <migrations folder>/${missing[0]}\`), or, if it is gone on purpose, \`ferry forget ${missing[0]} --reason "…"\` (its changes stay in the database; the forgetting is logged)`,
    );
  }
  const ack = [...new Set(drift.filter((d) => d.acknowledgeable).map((d) => d.migrationId))];
  const restore = drift.some((d) => !d.acknowledgeable && d.kind !== 'missing-folder');
  if (restore) fixes.push('restore the applied files from version control (put changes in a new step or migration)');
  if (ack.length) {
    fixes.push(
      `${restore ? 'for the edited rollback, verify or manifest fields: restore them too, ' : 'restore the edited files, '}or accept the edit as a reviewed fix with \`ferry acknowledge ${ack[0]} --reason "…"\``,
    );
  }
  return fixes.join('; ');
}

/** Refuse to go on when any of `views` has drift, or an applied migration's folder is gone (`orphans`). */
export function refuseDrift(views: MigrationView[], orphans: Drift[] = []): void {
  const drift = [...views.flatMap((v) => v.drift), ...orphans];
  if (drift.length === 0) return;
  throw new FerryError('E_DRIFT', `the migration files no longer match what was applied:\n  ${drift.map((d) => d.problem).join('\n  ')}`, driftHint(drift), {
    drift,
  });
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

/** How a project's migrations are loaded: with the project's parse cache, declared checks' `env` names checked against its environments. */
export function projectLoadOptions(project: Project): LoadOptions {
  return { cache: projectParseCache(project.root), environments: Object.keys(project.config.environments) };
}
