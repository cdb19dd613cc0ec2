import { backfillStepSchema, unpacedBackfillSpec } from '../backfill/spec.js';
import { SqlSyntaxError, splitStatements } from '../db/sql-script.js';
import { composeOperations, type OpStep } from '../operations/compose.js';
import { OPERATIONS, operationNamed } from '../operations/index.js';
import type { OpPart } from '../operations/types.js';
import { formatIssues } from '../project/config.js';
import { checksumOf } from './checksum.js';
import { NOT_DEFINED_YET, stepDefinition } from './definition.js';
import type { SqlScript, Step } from './loaded.js';

/** A manifest step of kind `op`, before its operation's fields are checked. */
export interface OpManifestStep {
  id: string;
  kind: 'op';
  op: string;
  description?: string | undefined;
  [field: string]: unknown;
}

/** Backfill tuning for the parts operations generate: the engine's defaults, one range per worker. */
const BACKFILL_DEFAULTS = { ranges: 4 };

function scriptOf(file: string, statements: string[], problems: string[], where: string): SqlScript | undefined {
  if (statements.length === 0) return undefined;
  const text = `${statements.map((s) => s.trim().replace(/;\s*$/, '')).join(';\n\n')};\n`;
  try {
    return { file, text, statements: splitStatements(text) };
  } catch (err) {
    if (!(err instanceof SqlSyntaxError)) throw err;
    problems.push(`${file}: ${where}: the SQL it generates does not parse (line ${err.line}): ${err.message} — check the expressions you gave it`);
    return undefined;
  }
}

function stepOfPart(
  s: OpManifestStep,
  o: { handles: readonly string[]; spec: unknown },
  part: OpPart,
  phase: 'expand' | 'contract',
  mfile: string,
  problems: string[],
): Step | undefined {
  const id = `${s.id}.${part.name}`;
  const where = `step ${id}`;
  const base: Step = {
    id,
    index: 0,
    kind: part.kind,
    description: part.description,
    transaction: part.kind === 'backfill' || part.transaction,
    // Contract parts are the point of no return; an expand part with no rollback statements simply has nothing to undo.
    irreversible: phase === 'contract' || (part.kind === 'sql' && part.irreversible === true),
    checksum: '',
    definition: NOT_DEFINED_YET,
    operation: {
      op: s.op,
      part: part.name,
      handles: [...new Set([...o.handles, ...(part.kind === 'sql' ? (part.handles ?? []) : [])])],
      step: s.id,
      spec: o.spec,
    },
  };
  if (phase === 'contract') base.phase = 'contract';
  if (part.kind === 'backfill') {
    const parsed = backfillStepSchema.safeParse({ ...BACKFILL_DEFAULTS, ...part.backfill, id: 'op-backfill', kind: 'backfill' });
    if (!parsed.success) {
      problems.push(...formatIssues(`${mfile}: ${where}`, parsed.error.issues));
      return undefined;
    }
    base.backfill = { ...parsed.data, id };
    finished(base, JSON.stringify(base.backfill));
    // Compiled by a ferry before pacing (no `impact`, sleepRatio 0.2), the same step is unedited.
    const earlier = unpacedBackfillSpec(base.backfill, false);
    base.previous = [{ checksum: opChecksum(base, JSON.stringify(earlier)), definition: stepDefinition({ ...base, backfill: earlier }) }];
    return base;
  }
  const file = `${mfile}#${id}`;
  // A part may run nothing forward and exist only for its rollback (e.g. a VALIDATE in a transaction of its own).
  const forward = part.forward.length === 0 ? { file, text: '', statements: [] } : scriptOf(file, part.forward, problems, `${where} forward`);
  if (!forward) return undefined;
  if (!part.transaction && forward.statements.length > 1) {
    problems.push(`${file}: ${where} runs outside a transaction, so it must be exactly one statement (found ${forward.statements.length}); split it`);
    return undefined;
  }
  base.forward = forward;
  if (phase === 'expand' && part.rollback.length === 0 && !base.irreversible) base.rollback = { file, text: '', statements: [] };
  for (const [dirn, statements] of [
    ['rollback', part.rollback],
    ['verify', part.verify],
    ['cleanup', part.cleanup ?? []],
  ] as const) {
    const script = scriptOf(file, statements, problems, `${where} ${dirn}`);
    if (script) base[dirn] = script;
  }
  finished(base, forward.text);
  if (part.previous) {
    // The same operation as an earlier ferry compiled it: applied that way, the step is unedited.
    const { previous: _p, ...now } = part;
    const earlier = stepOfPart(s, o, { ...now, ...part.previous }, phase, mfile, []);
    if (earlier) base.previous = [{ checksum: earlier.checksum, definition: earlier.definition }];
  }
  return base;
}

/** The checksum of a compiled step that applies `body`. */
const opChecksum = (step: Step, body: string) => checksumOf('op', step.kind, String(step.transaction), body);

/** A compiled step once complete: its checksum (what it applies, and how: an edited operation is drift once applied) and its definition. */
function finished(step: Step, body: string): Step {
  step.checksum = opChecksum(step, body);
  step.definition = stepDefinition(step);
  return step;
}

/**
 * Compile the `kind: "op"` steps of a manifest (`steps`, by their index in it)
 * into the ferry steps that run them: each operation's expand parts (run by
 * `up`), then its contract parts (phase `contract`, run by `ferry contract`).
 * Operations on the same table are composed first (src/operations/compose.ts),
 * so they share one pair of compat views, one sync trigger and one contract.
 * Problems go to `problems`.
 */
export function compileOperationSteps(
  steps: { step: OpManifestStep; index: number }[],
  mfile: string,
  problems: string[],
): Map<number, { expand: Step[]; contract: Step[] }> {
  const parsed: (OpStep & { index: number; manifest: OpManifestStep })[] = [];
  for (const { step: s, index } of steps) {
    const op = operationNamed(s.op);
    if (!op) {
      problems.push(`${mfile}: steps.${index}.op: unknown operation "${s.op}" (known: ${OPERATIONS.map((o) => o.name).join(', ')})`);
      continue;
    }
    const { id: _id, kind: _kind, op: _op, description: _d, ...fields } = s;
    const spec = op.schema.safeParse(fields);
    if (!spec.success) problems.push(...formatIssues(`${mfile}: steps.${index}`, spec.error.issues));
    else parsed.push({ id: s.id, op, spec: spec.data, index, manifest: s });
  }
  const composed = composeOperations(parsed);
  problems.push(...composed.problems.map((p) => `${mfile}: ${p}`));
  const out = new Map<number, { expand: Step[]; contract: Step[] }>();
  for (const p of parsed) {
    const c = composed.steps.get(p.id);
    if (!c) continue;
    const o = { handles: p.op.handles ?? [], spec: c.spec };
    const compile = (parts: OpPart[], phase: 'expand' | 'contract') =>
      parts.map((part) => stepOfPart(p.manifest, o, part, phase, mfile, problems)).filter((x): x is Step => x !== undefined);
    out.set(p.index, { expand: compile(c.expand, 'expand'), contract: compile(c.contract, 'contract') });
  }
  return out;
}
