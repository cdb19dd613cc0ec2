import type { Database } from '../db/database.js';
import { FerryError } from '../errors.js';
import { rollbackOf } from '../migration/definition.js';
import type { Migration } from '../migration/loader.js';
import { appendEvent, forgetMigration, readState, rerecordDefinition, rerecordStep } from '../state/store.js';
import { MIGRATION_LOCK_KEY } from './execute.js';
import { type Drift, driftHint, viewOf } from './plan-state.js';

/** Who acknowledges or forgets, why, and how long to wait for the migration lock. */
export interface DriftActionOptions {
  actor: string;
  reason: string;
  lockWaitMs: number;
}

/** What `ferry acknowledge` accepted: each edit, as it was recorded before and is recorded now. */
export interface Acknowledgement {
  migrationId: string;
  acknowledged: Drift[];
}

function requireReason(reason: string, command: string): void {
  if (reason.trim() === '') throw new FerryError('E_USAGE', `${command} needs a reason for the event log`, `pass --reason "why this is right"`);
}

/**
 * Accept the reviewed edits of an applied migration — its steps' rollback or
 * verify SQL, manifest fields other than the point of no return — as its
 * recorded definition, with one event naming each and the reason. Refused
 * while the migration has an edit that only restoring the files can end.
 */
export async function acknowledgeEdits(db: Database, m: Migration, opts: DriftActionOptions): Promise<Acknowledgement> {
  requireReason(opts.reason, 'acknowledge');
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    const state = await readState(db);
    const v = viewOf(m, state.migrations.get(m.id), state.applied.get(m.id) ?? []);
    const refused = v.drift.filter((d) => !d.acknowledgeable);
    if (refused.length) {
      throw new FerryError(
        'E_DRIFT',
        `migration ${m.id} has edits that cannot be acknowledged, because they change what was applied or what guards its data:\n  ${refused.map((d) => d.problem).join('\n  ')}`,
        driftHint(refused),
        { drift: refused },
      );
    }
    if (v.drift.length === 0) return { migrationId: m.id, acknowledged: [] };
    const applied = new Map(v.applied.map((a) => [a.stepId, a]));
    const steps = new Map(m.steps.map((s) => [s.id, s]));
    const changes: unknown[] = [];
    await db.transaction(async (tx) => {
      for (const d of v.drift) {
        const step = d.stepId === undefined ? undefined : steps.get(d.stepId);
        if (step && (d.kind === 'rollback-edited' || d.kind === 'verify-edited')) {
          const before = applied.get(step.id);
          await rerecordStep(tx, m.id, step.id, step.definition, rollbackOf(step));
          changes.push({
            step: step.id,
            kind: d.kind,
            before: { definition: before?.definition, rollback: before?.rollback },
            after: { definition: step.definition, rollback: rollbackOf(step) },
          });
        } else if (d.kind === 'manifest-edited') {
          await rerecordDefinition(tx, m.id, m.definition);
          changes.push({ kind: d.kind, before: v.record?.definition, after: m.definition });
        }
      }
      await appendEvent(tx, {
        migrationId: m.id,
        actor: opts.actor,
        kind: 'acknowledge',
        reason: opts.reason,
        details: { problems: v.drift.map((d) => d.problem), changes },
      });
    });
    return { migrationId: m.id, acknowledged: v.drift };
  });
}

/** What `ferry forget` removed: the migration's phase and applied steps, as the event log keeps them. */
export interface Forgotten {
  migrationId: string;
  phase: string;
  steps: string[];
}

/**
 * Forget an applied migration whose folder is gone on purpose: its record and
 * applied steps are removed (its changes stay in the database), and one event
 * keeps what was forgotten and why. Refused while its folder is there.
 */
export async function forget(db: Database, migrations: Migration[], id: string, opts: DriftActionOptions): Promise<Forgotten> {
  requireReason(opts.reason, 'forget');
  const here = migrations.find((m) => m.id === id || m.id.replace(/^\d+_/, '') === id);
  if (here) {
    throw new FerryError(
      'E_GATE',
      `migration ${here.id} has its folder; forget is only for an applied migration whose folder is gone`,
      `roll it back with \`ferry down ${here.id}\`, or delete its folder first if you really mean to forget it`,
    );
  }
  return db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    const state = await readState(db);
    const known = [...state.migrations.keys()];
    const matches = known.filter((k) => k === id || k.replace(/^\d+_/, '') === id);
    const target = matches.length === 1 ? matches[0] : known.find((k) => k === id);
    const record = target === undefined ? undefined : state.migrations.get(target);
    if (!record) {
      throw new FerryError('E_NOT_FOUND', `this database has no record of a migration "${id}"`, `known here: ${known.join(', ') || '(none)'}`);
    }
    if (record.phase === 'archived') {
      throw new FerryError('E_GATE', `migration ${record.id} is archived; its folder is in the archive, nothing is missing`, 'there is nothing to forget');
    }
    const applied = state.applied.get(record.id) ?? [];
    await db.transaction(async (tx) => {
      await forgetMigration(tx, record.id);
      await appendEvent(tx, {
        migrationId: record.id,
        actor: opts.actor,
        kind: 'forget',
        from: record.phase,
        reason: opts.reason,
        details: {
          phase: record.phase,
          checksum: record.checksum,
          pointOfNoReturn: record.pointOfNoReturn,
          steps: applied.map((a) => ({ id: a.stepId, checksum: a.checksum, appliedAt: a.appliedAt, appliedBy: a.appliedBy, rollback: a.rollback })),
        },
      });
    });
    return { migrationId: record.id, phase: record.phase, steps: applied.map((a) => a.stepId) };
  });
}
