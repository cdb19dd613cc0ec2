import { relative } from 'node:path';
import { describeLockMode } from '../db/catalog-locks.js';
import type { Queryable } from '../db/database.js';
import { lintMigration } from '../lint/index.js';
import { analyseStatement } from '../lint/locks.js';
import type { Finding, LockTaken } from '../lint/types.js';
import type { Migration, SqlScript, Step } from '../migration/loader.js';
import { type MigrationEvent, readState } from '../state/store.js';
import { type MigrationStatus, migrationLog, migrationStatus } from './status.js';

// A migration's page of `ferry serve`: its status, the timeline of its event log, and every step with
// the SQL it runs, undoes and verifies, the locks each statement takes, and when it was applied.

/** One statement of a script and the table-level locks it takes (from PostgreSQL's parse; nothing runs). */
export interface StatementLocks {
  /** 1-based line in its script. */
  line: number;
  text: string;
  locks: LockTaken[];
}

/** One direction of a step (forward, rollback, verify): its file, its text and its statements. */
export interface StepScript {
  /** Relative to the migration's folder; `migration.json#<step>` for SQL an operation generates. */
  file: string;
  text: string;
  statements: StatementLocks[];
}

/** A step as the migration's page shows it. */
export interface StepDetail {
  id: string;
  /** 0-based order in the migration. */
  index: number;
  kind: 'sql' | 'ts' | 'backfill';
  phase: 'expand' | 'contract';
  description: string | null;
  /** For steps compiled from an operation: which one, which part, and the manifest step it comes from. */
  operation: { op: string; part: string; step: string | null } | null;
  transaction: boolean;
  irreversible: boolean;
  forward: StepScript | null;
  rollback: StepScript | null;
  verify: StepScript | null;
  /** A `ts` step's module (or a backfill's transform), relative to the migration's folder. */
  module: string | null;
  /** A backfill step: the table, its key, the expressions it sets (and undoes) and the predicate of rows still to do. */
  backfill: { table: string; key: string[] | null; set: Record<string, string> | null; where: string; rollback: Record<string, string> | null } | null;
  /** Every lock the step's forward work takes (a backfill: the row locks of its batches). */
  locks: LockTaken[];
  /** The linter's findings on the step's statements (error findings stop `up` unless acknowledged). */
  findings: { rule: string; severity: string; status: string; line: number; message: string; fix: string }[];
  applied: boolean;
  appliedAt: string | null;
  appliedBy: string | null;
  durationMs: number | null;
  baseline: boolean;
}

/** One entry of a migration's timeline (who did what, when, from which phase to which, and why): an event as `ferry log --json` prints it. */
export type TimelineEvent = Omit<MigrationEvent, 'at'> & { at: string };

/** What {@link migrationDetail} returns. */
export interface MigrationDetail {
  status: MigrationStatus;
  /** Oldest first. */
  timeline: TimelineEvent[];
  steps: StepDetail[];
}

/** An event of the log as the timeline shows it (JSON-ready: `at` as ISO text). */
export function timelineEvent(e: MigrationEvent): TimelineEvent {
  return { ...e, at: e.at.toISOString(), details: e.details ?? null };
}

const fileOf = (m: Migration, file: string) => (file.startsWith(m.dir) ? relative(m.dir, file) : file);

function scriptOf(m: Migration, s: SqlScript | undefined): StepScript | null {
  if (!s) return null;
  return {
    file: fileOf(m, s.file),
    text: s.text,
    statements: s.statements.map((st) => ({ line: st.line, text: st.text, locks: analyseStatement(st).locks })),
  };
}

function backfillOf(step: Step): StepDetail['backfill'] {
  const b = step.backfill;
  if (!b) return null;
  return { table: b.table, key: b.key ?? null, set: b.set ?? null, where: b.where, rollback: b.rollback ?? null };
}

/** The locks a step's forward work takes: its statements', or a backfill's batches (UPDATEs in keyset ranges). */
function locksOf(step: Step, forward: StepScript | null): LockTaken[] {
  if (step.backfill) {
    const mode = 'RowExclusiveLock';
    return [{ relation: step.backfill.table, mode, blocks: describeLockMode(mode), why: 'UPDATE of each batch (row locks on the batch only)' }];
  }
  return forward?.statements.flatMap((s) => s.locks) ?? [];
}

const findingOf = (f: Finding) => ({ rule: f.rule, severity: f.severity, status: f.status, line: f.line, message: f.message, fix: f.fix });

/**
 * A migration's page: its status entry (as `ferry status <id> --json` has it), its timeline from
 * the event log, and each step with its SQL, rollback and verify, the locks each statement takes, the
 * linter's findings, and when and by whom it was applied. Reads only; nothing runs.
 */
export async function migrationDetail(db: Queryable, m: Migration): Promise<MigrationDetail> {
  const { migrations } = await migrationStatus(db, [m], { only: [m.id] });
  const status = migrations[0] as MigrationStatus;
  const { events } = await migrationLog(db, m.id);
  const applied = new Map(((await readState(db)).applied.get(m.id) ?? []).map((a) => [a.stepId, a]));
  const findings = lintMigration(m).findings;
  const steps = m.steps.map((step): StepDetail => {
    const a = applied.get(step.id);
    const forward = scriptOf(m, step.forward);
    return {
      id: step.id,
      index: step.index,
      kind: step.kind,
      phase: step.phase ?? 'expand',
      description: step.description ?? null,
      operation: step.operation ? { op: step.operation.op, part: step.operation.part, step: step.operation.step ?? null } : null,
      transaction: step.transaction,
      irreversible: step.irreversible,
      forward,
      rollback: scriptOf(m, step.rollback),
      verify: scriptOf(m, step.verify),
      module: step.module ? fileOf(m, step.module) : null,
      backfill: backfillOf(step),
      locks: locksOf(step, forward),
      findings: findings.filter((f) => f.stepId === step.id).map(findingOf),
      applied: a !== undefined,
      appliedAt: a ? a.appliedAt.toISOString() : null,
      appliedBy: a?.appliedBy ?? null,
      durationMs: a ? a.durationMs : null,
      baseline: a?.baseline ?? false,
    };
  });
  return { status, timeline: events.map(timelineEvent), steps };
}
