import { describe, expect, it } from 'vitest';
import { ladderOf, type Migration, PHASE_STEP, PHASES, WORKFLOW_STEPS } from '../../src/index.js';

// The overview's ladder: every lifecycle phase maps to one of DESIGN.md's eight workflow steps (or none, rolled back).

/** A migration as the ladder reads it: its rollout stages (default 5 → 25 → 50 → 75 → 100). */
const migration = { manifest: {} } as unknown as Migration;

const states = (phase: string | null, pausedAt: number | null = null) =>
  ladderOf(phase, migration, pausedAt)
    .rungs.map((r) => r.state[0])
    .join('');

describe('the workflow ladder of a migration', () => {
  it('maps every phase, and only the phases, to a step', () => {
    expect(Object.keys(PHASE_STEP).sort()).toEqual([...PHASES].sort());
    expect(WORKFLOW_STEPS).toHaveLength(8);
  });

  it('marks the steps before the current one done and the rest to do', () => {
    expect(ladderOf(null, migration, null).current).toBe(1);
    expect(states(null)).toBe('cttttttt');
    expect(states('expanded')).toBe('dctttttt');
    expect(states('backfilled')).toBe('dddctttt');
    expect(states('rolling')).toBe('dddddctt');
    expect(states('verified')).toBe('ddddddct');
    expect(states('contracted')).toBe('dddddddc');
  });

  it('has every step done once archived, and no current step once rolled back', () => {
    expect(states('archived')).toBe('dddddddd');
    expect(ladderOf('rolled-back', migration, null).current).toBeNull();
    expect(states('rolled-back')).toBe('tttttttt');
  });

  it('puts a paused rollout at canary on its first stage and at expansion beyond it', () => {
    expect(ladderOf('paused', migration, 5).current).toBe(5);
    expect(ladderOf('paused', migration, 25).current).toBe(6);
    expect(ladderOf('paused', migration, null).current).toBe(5);
  });
});
