import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { formatPercentage } from '../rollout/percentage.js';
import { type Lifecycle, type RolloutMove, type RolloutTarget, readRollout, setRollout } from '../rollout/stages.js';
import { appendEvent } from '../state/store.js';
import { readController, setState } from './controller-state.js';

/**
 * `ferry rollout <id> resume`: an operator takes responsibility for a paused
 * rollout. The current stage starts its hold again, and yellow no longer pauses
 * it at this stage (red still rolls back; the next stage is judged afresh). A
 * running controller picks it up at its next evaluation. E_GATE when not paused.
 */
export async function resumeRollout(tx: Queryable, t: RolloutTarget, opts: { actor: string; reason?: string; life: Lifecycle }): Promise<RolloutMove> {
  const phase = await opts.life.currentPhase(tx, t.id);
  const controller = await readController(tx, t.id, true);
  const rollout = await readRollout(tx, t.id, true);
  // Paused by the controller at 100 % (rolled out) is resumed without a phase move; otherwise the table judges the phase.
  const pausedAtTop = phase === 'rolled-out' && controller?.state === 'paused';
  if (!pausedAtTop) await opts.life.currentPhase(tx, t.id, { action: 'resume', verb: 'resume' });
  if (!rollout) throw new FerryError('E_GATE', `cannot resume ${t.id}: its rollout is not paused (phase ${phase})`, `see \`ferry rollout ${t.id} status\``);
  const reason = `resumed by ${opts.actor} at ${formatPercentage(rollout.percentage)}${opts.reason ? `: ${opts.reason}` : ''}; yellow accepted for this stage`;
  const move = await setRollout(tx, t, rollout.percentage, { actor: opts.actor, reason, life: opts.life });
  await setState(tx, t.id, 'running', reason, { acknowledged: rollout.percentage });
  await appendEvent(tx, {
    migrationId: t.id,
    actor: opts.actor,
    kind: 'health',
    reason,
    details: { action: 'resume', acknowledged: rollout.percentage, by: opts.actor },
  });
  return move;
}
