import { type DecisionMatrix, explain, verdictOf } from './matrix.js';

/**
 * What the controller does about a matrix: `hold` the stage, `promote` to the
 * next, `complete` the last, `pause`, `resume` a paused rollout, `wait` for
 * traffic, or `rollback`.
 */
export type Action = 'hold' | 'promote' | 'complete' | 'pause' | 'resume' | 'wait' | 'rollback';

/** A decision and the reason, with the numbers. */
export interface Decision {
  action: Action;
  reason: string;
  /** For `rollback`: data is involved (data errors found), so the steps after the last safe point are rolled back too. */
  down: boolean;
}

/** Where the rollout stands when the matrix is judged. */
export interface DecisionContext {
  /** The rollout is paused (by yellow, or degraded but not severe). */
  paused: boolean;
  /** The stage's hold has elapsed. */
  holdElapsed: boolean;
  /** An operator resumed this stage despite yellow (`ferry rollout <id> resume`): yellow does not pause it again. */
  acknowledged: boolean;
  /** The stage is the last (100 %). */
  lastStage: boolean;
}

/**
 * The rollback decision tree of the workflow, on one matrix:
 *
 * - red on the error rate or on data errors (degraded and severe) → `rollback`:
 *   the quick rollback (flag off), and where data is involved (any data errors)
 *   also `down` of the steps after the last safe point;
 * - red on latency only (degraded, not severe) → `pause` and investigate;
 * - yellow → `pause` (unless an operator acknowledged it for this stage);
 * - no data → `wait`: never promote on too little traffic;
 * - green → `resume` a paused rollout, `promote` (or `complete` at 100 %) once the hold elapsed, else `hold`.
 */
export function decide(m: DecisionMatrix, c: DecisionContext): Decision {
  const why = explain(m);
  const errorRate = verdictOf(m, 'errorRate');
  const data = verdictOf(m, 'dataErrors');
  if (m.colour === 'red') {
    if (errorRate.colour === 'red' || data.colour === 'red') {
      const down = (data.value ?? 0) > 0;
      return {
        action: 'rollback',
        reason: `red, severe (${why}): quick rollback, flag off${down ? '; data is involved: down to the last safe point' : ''}`,
        down,
      };
    }
    return { action: 'pause', reason: `red, degraded but not severe (${why}): pause and investigate`, down: false };
  }
  if (m.colour === 'yellow' && !c.acknowledged) {
    return {
      action: 'pause',
      reason: `yellow (${why}): ${c.paused ? 'stays paused' : 'pause'} until green again or \`ferry rollout ${m.migrationId} resume\``,
      down: false,
    };
  }
  if (m.colour === 'no-data') {
    return {
      action: c.paused ? 'pause' : 'wait',
      reason: `no data (${why}): ${c.paused ? 'stays paused until green' : 'never promote on too little traffic'}`,
      down: false,
    };
  }
  const colour = m.colour === 'yellow' ? 'yellow, acknowledged by an operator' : 'green';
  if (c.paused) return { action: 'resume', reason: `${colour} (${why}): resume`, down: false };
  if (!c.holdElapsed) return { action: 'hold', reason: `${colour} (${why}): hold the stage`, down: false };
  return c.lastStage
    ? { action: 'complete', reason: `${colour} (${why}) through the last hold: rolled out`, down: false }
    : { action: 'promote', reason: `${colour} (${why}) and the hold elapsed: next stage`, down: false };
}
