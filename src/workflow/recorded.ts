import type { Queryable } from '../db/database.js';
import { splitStatements } from '../db/sql-script.js';
import { rollbackOf } from '../migration/definition.js';
import type { Migration, Step } from '../migration/loader.js';
import { type AppliedRecord, type AppliedStep, type MigrationRecord, recordApplied } from '../state/store.js';

/**
 * What is recorded of `step` of `m` applied by `actor`: its definition, its
 * rollback, and the manifest's definition and point of no return (kept when it
 * is the migration's first applied step).
 */
export function appliedRecordOf(
  m: Migration,
  step: Step,
  actor: string,
  opts: { durationMs?: number; baseline?: boolean } = {},
): { applied: AppliedRecord; manifest: { definition: Record<string, string>; pointOfNoReturn: string | null } } {
  return {
    applied: {
      migrationId: m.id,
      stepId: step.id,
      position: step.index,
      checksum: step.checksum,
      actor,
      durationMs: opts.durationMs ?? 0,
      baseline: opts.baseline ?? false,
      definition: step.definition,
      rollback: rollbackOf(step),
      irreversible: step.irreversible,
      phase: step.phase ?? 'expand',
      clearMarker: !step.transaction,
    },
    manifest: { definition: m.definition, pointOfNoReturn: m.manifest.pointOfNoReturn },
  };
}

/** Record `step` of `m` as applied by `actor` (see {@link appliedRecordOf}), in the transaction that applied it. */
export async function recordStep(q: Queryable, m: Migration, step: Step, actor: string, opts: { durationMs?: number; baseline?: boolean } = {}): Promise<void> {
  const { applied, manifest } = appliedRecordOf(m, step, actor, opts);
  await recordApplied(q, applied, manifest);
}

/** The facts that guard a migration's data, as the database recorded them when it was applied. */
export interface GuardFacts {
  /** The step after which `down` cannot go back. */
  pointOfNoReturn: string | null;
  /** Applied steps recorded as irreversible. */
  irreversible: Set<string>;
  /** Applied steps recorded as contract steps (past the point of no return by nature). */
  contract: Set<string>;
}

/**
 * The guard facts of `m`: the recorded ones, and the files' only for steps or
 * a migration applied before ferry recorded them (state version 8).
 */
export function guardFacts(m: Migration, record: MigrationRecord | undefined, applied: AppliedStep[]): GuardFacts {
  const fromFiles = new Map(m.steps.map((s) => [s.id, s]));
  const facts: GuardFacts = {
    pointOfNoReturn: record?.definition ? record.pointOfNoReturn : m.manifest.pointOfNoReturn,
    irreversible: new Set(),
    contract: new Set(),
  };
  for (const a of applied) {
    const file = fromFiles.get(a.stepId);
    if (a.irreversible ?? file?.irreversible) facts.irreversible.add(a.stepId);
    if ((a.phase ?? file?.phase) === 'contract') facts.contract.add(a.stepId);
  }
  return facts;
}

/** `step` as it was applied: its rollback replaced by the recorded one, so `down` runs what was reviewed with it. */
export function asApplied(step: Step, applied: AppliedStep | undefined): Step {
  const r = applied?.rollback;
  if (!r) return step;
  if (r.kind === 'sql') return { ...step, rollback: { file: r.file, text: r.text, statements: r.text.trim() === '' ? [] : splitStatements(r.text) } };
  if (r.kind === 'none') {
    const { rollback: _gone, ...rest } = step;
    return rest;
  }
  if (r.kind === 'backfill' && step.backfill) {
    const { rollback: _now, ...spec } = step.backfill;
    return { ...step, backfill: r.rollback ? { ...spec, rollback: r.rollback } : spec };
  }
  return step;
}
