import type { RecordedRollback, StepDefinition } from '../state/store.js';
import { canonicalJson } from '../verify/declared.js';
import { checksumOf } from './checksum.js';

export type { RecordedRollback, StepDefinition } from '../state/store.js';

/** The parts of a loaded step its definition is computed from (structurally a loader `Step`). */
export interface DefinedStep {
  id: string;
  kind: 'sql' | 'ts' | 'backfill';
  transaction: boolean;
  irreversible: boolean;
  phase?: 'contract';
  forward?: { text: string };
  rollback?: { file: string; text: string };
  verify?: { text: string };
  cleanup?: { text: string };
  /** Source text of a `ts` step's module or a backfill's transform module. */
  moduleSource?: string;
  backfill?: { rollback?: Record<string, string> | undefined };
  operation?: { op: string; part: string };
}

/**
 * What a step was when an earlier ferry read or compiled it (an operation's
 * other SQL, a backfill's other defaults): recorded so, it was not edited.
 */
export interface PreviousGeneration {
  checksum: string;
  definition: StepDefinition;
}

/** A step's definition while it is being read, before it is complete. */
export const NOT_DEFINED_YET: StepDefinition = { body: '', rollback: '', verify: '' };

/** The rollback a step would run now, in the form it is recorded in. */
export function rollbackOf(step: DefinedStep): RecordedRollback {
  if (step.kind === 'backfill') return { kind: 'backfill', rollback: step.backfill?.rollback ?? null };
  if (step.kind === 'ts') return { kind: 'module' };
  return step.rollback ? { kind: 'sql', file: step.rollback.file, text: step.rollback.text } : { kind: 'none' };
}

/** The checksum of a recorded rollback; equal for equal rollbacks, whatever file they were read from. */
export function rollbackChecksum(r: RecordedRollback): string {
  if (r.kind === 'sql') return checksumOf('rollback', 'sql', r.text);
  if (r.kind === 'backfill') return checksumOf('rollback', 'backfill', canonicalJson(r.rollback));
  return checksumOf('rollback', r.kind);
}

/** The three checksums of a step's definition. */
export function stepDefinition(step: DefinedStep): StepDefinition {
  const { rollback: _r, ...backfill } = step.backfill ?? {};
  const body = checksumOf(
    'step',
    step.kind,
    String(step.transaction),
    String(step.irreversible),
    step.phase ?? 'expand',
    step.forward?.text ?? '',
    step.moduleSource ?? '',
    step.backfill ? canonicalJson(backfill) : '',
    step.operation ? `${step.operation.op}#${step.operation.part}` : '',
  );
  return { body, rollback: rollbackChecksum(rollbackOf(step)), verify: checksumOf('verify', step.verify?.text ?? '', step.cleanup?.text ?? '') };
}

/**
 * A checksum of each field of the manifest as its author wrote it (defaults
 * not filled in, so a newer ferry's defaults are no edit), but `steps`, which
 * have their own definitions, and `pointOfNoReturn`, recorded as a value.
 */
export function manifestDefinition(raw: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (raw === null || typeof raw !== 'object') return out;
  const fields = Object.entries(raw as Record<string, unknown>)
    .filter(([k, v]) => !['steps', '$schema', 'pointOfNoReturn'].includes(k) && v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of fields) out[k] = checksumOf('field', k, canonicalJson(v));
  return out;
}

/** The checksum of a whole migration: every manifest field, its point of no return, every step's definition, in order. */
export function migrationChecksum(
  fields: Record<string, string>,
  pointOfNoReturn: string | null,
  steps: readonly { id: string; definition: StepDefinition }[],
): string {
  const parts = steps.map((s) => `${s.id}:${s.definition.body}:${s.definition.rollback}:${s.definition.verify}`);
  return checksumOf(canonicalJson(fields), `pointOfNoReturn:${pointOfNoReturn ?? ''}`, ...parts);
}
