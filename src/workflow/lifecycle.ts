import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { type PhaseMove, recordTransition } from '../state/store.js';
import { approvalsCurrent, rolesApproved } from './approvals.js';
import { checksPass } from './check-store.js';
import { crossingGate } from './crossing.js';
import { deprecationPassed } from './deprecation.js';
import type { Gate, GateContext, Phase, PhaseRefusal } from './gate.js';

export { type Gate, type GateContext, type GateRefusal, PHASES, type Phase, type PhaseRefusal } from './gate.js';

/** One allowed move between phases, with the gates it must pass. */
export interface Transition {
  readonly action: string;
  readonly from: readonly Phase[];
  readonly to: Phase;
  readonly gates: readonly Gate[];
  /** How an action asking for this move (see {@link currentPhase}) words its refusal from another phase; default `it is <phase>`. */
  readonly refuse?: PhaseRefusal;
}

const BEFORE_CONTRACT: readonly Phase[] = ['approved', 'expanded', 'backfilling', 'backfilled', 'canary', 'rolling', 'rolled-out', 'verified', 'paused'];

const seeRollout = (migrationId: string) => `see \`ferry rollout ${migrationId} status\``;

/** The table, frozen through: nothing adds a move or a gate after this module has loaded. */
function frozen(table: Transition[]): readonly Transition[] {
  return Object.freeze(table.map((t) => Object.freeze({ ...t, from: Object.freeze([...t.from]), gates: Object.freeze([...t.gates]) })));
}

/**
 * The transition table: the only place that says which phase may follow which,
 * and every gate each move must pass (approvals in approvals.ts, the checks in
 * check-store.ts, the crossing in crossing.ts, the deprecation period in
 * deprecation.ts). It is static: nothing registers a gate at run time.
 */
export const TRANSITIONS: readonly Transition[] = frozen([
  { action: 'approve', from: ['planned'], to: 'approved', gates: [rolesApproved] },
  { action: 'up', from: ['approved', 'rolled-back'], to: 'expanded', gates: [] },
  { action: 'baseline', from: ['planned', 'approved', 'rolled-back'], to: 'expanded', gates: [] },
  { action: 'backfill', from: ['expanded'], to: 'backfilling', gates: [] },
  { action: 'backfilled', from: ['backfilling'], to: 'backfilled', gates: [] },
  { action: 'rollout', from: ['expanded', 'backfilled'], to: 'canary', gates: [approvalsCurrent] },
  { action: 'promote', from: ['canary', 'paused'], to: 'rolling', gates: [approvalsCurrent] },
  {
    action: 'complete-rollout',
    from: ['canary', 'rolling'],
    to: 'rolled-out',
    gates: [approvalsCurrent],
    refuse: (phase, id) => ({ why: `it is ${phase}`, hint: seeRollout(id) }),
  },
  { action: 'pause', from: ['canary', 'rolling'], to: 'paused', gates: [] },
  {
    action: 'resume',
    from: ['paused'],
    to: 'canary',
    gates: [approvalsCurrent],
    refuse: (phase, id) => ({ why: `its rollout is not paused (phase ${phase})`, hint: seeRollout(id) }),
  },
  { action: 'verify', from: ['rolled-out'], to: 'verified', gates: [checksPass] },
  // A failing verify run after verified: back to rolled-out until a passing `verify --full` moves it again.
  { action: 'verify-failed', from: ['verified'], to: 'rolled-out', gates: [] },
  {
    action: 'contract',
    from: ['verified'],
    to: 'contracted',
    gates: [crossingGate],
    refuse: (phase, id, verb) => ({
      why: `it is ${phase}, and crossing the point of no return needs a verified migration`,
      hint: `finish the rollout (\`ferry rollout ${id} status\`), verify it, then ${verb}`,
    }),
  },
  {
    action: 'archive',
    from: ['contracted'],
    to: 'archived',
    gates: [deprecationPassed],
    refuse: (phase, id) =>
      phase === 'archived'
        ? { why: 'it is already archived', hint: 'there is nothing left to clean up', message: `migration ${id} is already archived` }
        : { why: `it is ${phase}`, hint: nextMoves(phase) },
  },
  { action: 'rollback', from: BEFORE_CONTRACT, to: 'rolled-back', gates: [] },
]);

/** The transition for moving `from` → `to`, if the table allows it. */
export function findTransition(from: Phase, to: Phase): Transition | undefined {
  return TRANSITIONS.find((t) => t.to === to && t.from.includes(from));
}

/** The transitions named `action`; an unknown name is a programming error. */
function named(action: string): readonly Transition[] {
  const found = TRANSITIONS.filter((t) => t.action === action);
  if (found.length === 0) throw new Error(`no transition named ${action}`);
  return found;
}

/** The hint of a refused move: where the table lets `from` go. */
function nextMoves(from: Phase): string {
  const next = TRANSITIONS.filter((x) => x.from.includes(from)).map((x) => `${x.to} (${x.action})`);
  return next.length ? `from ${from} it can move to: ${next.join(', ')}` : `${from} is a final phase`;
}

/** An action about to ask the table for the move named `action`; its refusals read `cannot <verb> <id>: …`. */
export interface Asking {
  action: string;
  verb: string;
}

/** The E_GATE for asking the move `asking.action` of a migration in `phase`, worded by its table entry; undefined when the move starts from there. */
export function phaseRefusal(migrationId: string, phase: Phase, asking: Asking): FerryError | undefined {
  const moves = named(asking.action);
  if (moves.some((t) => t.from.includes(phase))) return undefined;
  const r = moves[0]?.refuse?.(phase, migrationId, asking.verb) ?? { why: `it is ${phase}`, hint: nextMoves(phase) };
  return new FerryError('E_GATE', r.message ?? `cannot ${asking.verb} ${migrationId}: ${r.why}`, r.hint);
}

/** The phase of a registered migration (E_NOT_FOUND otherwise), its row locked for update when `lock`. */
async function readPhase(db: Queryable, migrationId: string, lock: boolean): Promise<Phase> {
  const { rows } = await db.query<{ phase: Phase }>(`SELECT phase FROM ferry.migrations WHERE id = $1${lock ? ' FOR UPDATE' : ''}`, [migrationId]);
  const phase = rows[0]?.phase;
  if (!phase) throw new FerryError('E_NOT_FOUND', `migration ${migrationId} is not registered in this database`, 'run `ferry status` to see what is known');
  return phase;
}

/**
 * The phase a migration is in, locked for update until the transaction ends.
 * With `asking`, an action checks the table before it does any work: E_GATE
 * (worded by the table) when the move it asks for does not start from this phase.
 */
export async function currentPhase(tx: Queryable, migrationId: string, asking?: Asking): Promise<Phase> {
  const phase = await readPhase(tx, migrationId, true);
  const refused = asking ? phaseRefusal(migrationId, phase, asking) : undefined;
  if (refused) throw refused;
  return phase;
}

/** The E_GATE of the first gate of `t` that refuses in `ctx`, or undefined when all pass. */
async function gateRefusal(t: Transition, ctx: GateContext): Promise<FerryError | undefined> {
  for (const gate of t.gates) {
    const said = await gate(ctx);
    if (!said) continue;
    const r = typeof said === 'string' ? { why: said, hint: 'meet the condition above, then retry' } : said;
    return new FerryError('E_GATE', r.message ?? `migration ${ctx.migrationId} cannot move from ${ctx.from} to ${ctx.to}: ${r.why}`, r.hint);
  }
  return undefined;
}

/**
 * Ask the table without moving (and without locking): may the migration take
 * the move `asking.action` now? Checks the phase as {@link currentPhase} does,
 * then every gate of the move with the `details` the move will carry. `asFrom`
 * judges the move from the phase a later step reaches (cleanup asks archive's
 * gates while the migration is still verified).
 * Resolves to the E_GATE the move would raise, or undefined when it may go.
 */
export async function refusal(
  tx: Queryable,
  migrationId: string,
  asking: Asking & { actor: string; details?: unknown; asFrom?: Phase },
): Promise<FerryError | undefined> {
  const from = asking.asFrom ?? (await readPhase(tx, migrationId, false));
  const refused = phaseRefusal(migrationId, from, asking);
  if (refused) return refused;
  const t = named(asking.action).find((x) => x.from.includes(from)) as Transition;
  return gateRefusal(t, { tx, migrationId, from, to: t.to, actor: asking.actor, details: asking.details });
}

/**
 * Move a migration to `to`, checking the table and every gate, and append the
 * event (who, when, from → to, why) in the same transaction. Resolves to the
 * phase it moved from (equal to `to` when it was already there: nothing is written).
 * `from`: the phase as the caller read it with the row locked in this transaction (not read again).
 */
export async function transition(
  tx: Queryable,
  migrationId: string,
  to: Phase,
  opts: { actor: string; reason: string; details?: unknown; from?: Phase },
): Promise<Phase> {
  // A caller that holds the row locked in this transaction (it registered or moved the migration in it) knows the phase.
  const from = opts.from ?? (await currentPhase(tx, migrationId));
  const [move] = await checkMoves(tx, migrationId, from, [{ to, reason: opts.reason, details: opts.details }], opts.actor);
  if (move) await recordTransition(tx, { migrationId, actor: opts.actor, ...move });
  return from;
}

/** A move asked of {@link checkMoves}. */
export interface MoveAsked {
  to: Phase;
  reason: string;
  details?: unknown;
}

/**
 * Check moves from `from` through each `to` in turn against the table and every
 * gate, writing nothing; resolves to the moves to record (a move to the phase it
 * is already in is none). Throws the E_GATE of the first move refused.
 */
export async function checkMoves(tx: Queryable, migrationId: string, from: Phase, asked: readonly MoveAsked[], actor: string): Promise<PhaseMove[]> {
  const moves: PhaseMove[] = [];
  let at = from;
  for (const { to, reason, details } of asked) {
    if (at === to) continue;
    const t = findTransition(at, to);
    if (!t) throw new FerryError('E_GATE', `migration ${migrationId} cannot move from ${at} to ${to}`, nextMoves(at));
    const refused = await gateRefusal(t, { tx, migrationId, from: at, to, actor, details });
    if (refused) throw refused;
    moves.push({ from: at, to, reason, ...(details === undefined ? {} : { details }) });
    at = to;
  }
  return moves;
}
