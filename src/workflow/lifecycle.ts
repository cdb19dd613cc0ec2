import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { appendEvent } from '../state/store.js';
import { checksPass } from './check-store.js';
import { crossingGate } from './crossing.js';
import type { Gate, Phase } from './gate.js';

export { type Gate, type GateContext, type GateRefusal, PHASES, type Phase } from './gate.js';

/** One allowed move between phases, with the gates it must pass. */
export interface Transition {
  action: string;
  from: readonly Phase[];
  to: Phase;
  gates: Gate[];
}

const BEFORE_CONTRACT: readonly Phase[] = ['approved', 'expanded', 'backfilling', 'backfilled', 'canary', 'rolling', 'rolled-out', 'verified', 'paused'];

/**
 * The transition table: the only place that says which phase may follow which.
 * Later building blocks (approvals, backfill, rollout, verification, cleanup)
 * add their gates to the entries here.
 */
export const TRANSITIONS: readonly Transition[] = [
  { action: 'approve', from: ['planned'], to: 'approved', gates: [] },
  { action: 'up', from: ['approved', 'rolled-back'], to: 'expanded', gates: [] },
  { action: 'baseline', from: ['planned', 'approved', 'rolled-back'], to: 'expanded', gates: [] },
  { action: 'backfill', from: ['expanded'], to: 'backfilling', gates: [] },
  { action: 'backfilled', from: ['backfilling'], to: 'backfilled', gates: [] },
  { action: 'rollout', from: ['expanded', 'backfilled'], to: 'canary', gates: [] },
  { action: 'promote', from: ['canary', 'paused'], to: 'rolling', gates: [] },
  { action: 'complete-rollout', from: ['canary', 'rolling', 'paused'], to: 'rolled-out', gates: [] },
  { action: 'pause', from: ['canary', 'rolling'], to: 'paused', gates: [] },
  { action: 'resume', from: ['paused'], to: 'canary', gates: [] },
  { action: 'verify', from: ['rolled-out'], to: 'verified', gates: [checksPass] },
  // A failing verify run after verified: back to rolled-out until a passing `verify --full` moves it again.
  { action: 'verify-failed', from: ['verified'], to: 'rolled-out', gates: [] },
  { action: 'contract', from: ['verified'], to: 'contracted', gates: [crossingGate] },
  { action: 'archive', from: ['contracted'], to: 'archived', gates: [] },
  { action: 'rollback', from: BEFORE_CONTRACT, to: 'rolled-back', gates: [] },
];

/** The transition for moving `from` → `to`, if the table allows it. */
export function findTransition(from: Phase, to: Phase): Transition | undefined {
  return TRANSITIONS.find((t) => t.to === to && t.from.includes(from));
}

/** Add a gate to the transition(s) named `action`; for building blocks that own a gate. */
export function addGate(action: string, gate: Gate): void {
  const matches = TRANSITIONS.filter((t) => t.action === action);
  if (matches.length === 0) throw new Error(`no transition named ${action}`);
  for (const t of matches) t.gates.push(gate);
}

/** The phase a migration is in, locked for update until the transaction ends. */
export async function currentPhase(tx: Queryable, migrationId: string): Promise<Phase> {
  const { rows } = await tx.query<{ phase: Phase }>('SELECT phase FROM ferry.migrations WHERE id = $1 FOR UPDATE', [migrationId]);
  const phase = rows[0]?.phase;
  if (!phase) throw new FerryError('E_NOT_FOUND', `migration ${migrationId} is not registered in this database`, 'run `ferry status` to see what is known');
  return phase;
}

/**
 * Move a migration to `to`, checking the table and every gate, and append the
 * event (who, when, from → to, why) in the same transaction. Resolves to the
 * phase it moved from (equal to `to` when it was already there: nothing is written).
 */
export async function transition(tx: Queryable, migrationId: string, to: Phase, opts: { actor: string; reason: string; details?: unknown }): Promise<Phase> {
  const from = await currentPhase(tx, migrationId);
  if (from === to) return from;
  const t = findTransition(from, to);
  if (!t) {
    const next = TRANSITIONS.filter((x) => x.from.includes(from)).map((x) => `${x.to} (${x.action})`);
    throw new FerryError(
      'E_GATE',
      `migration ${migrationId} cannot move from ${from} to ${to}`,
      next.length ? `from ${from} it can move to: ${next.join(', ')}` : `${from} is a final phase`,
    );
  }
  for (const gate of t.gates) {
    const refusal = await gate({ tx, migrationId, from, to, actor: opts.actor, details: opts.details });
    if (!refusal) continue;
    const { why, hint } = typeof refusal === 'string' ? { why: refusal, hint: 'meet the condition above, then retry' } : refusal;
    throw new FerryError('E_GATE', `migration ${migrationId} cannot move from ${from} to ${to}: ${why}`, hint);
  }
  await tx.query('UPDATE ferry.migrations SET phase = $2, updated_at = now() WHERE id = $1', [migrationId, to]);
  await appendEvent(tx, { migrationId, actor: opts.actor, kind: 'transition', from, to, reason: opts.reason, details: opts.details });
  return from;
}
