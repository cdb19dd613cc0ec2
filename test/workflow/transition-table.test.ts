import { describe, expect, it } from 'vitest';
import { approvalsCurrent, rolesApproved } from '../../src/workflow/approvals.js';
import { checksPass } from '../../src/workflow/check-store.js';
import { crossingGate } from '../../src/workflow/crossing.js';
import { deprecationPassed } from '../../src/workflow/deprecation.js';
import { type Gate, phaseRefusal, TRANSITIONS } from '../../src/workflow/lifecycle.js';

const gatesOf = (action: string) => TRANSITIONS.filter((t) => t.action === action).flatMap((t) => [...t.gates]);

describe('the transition table', () => {
  it('lists every gate in its literal: approvals, the checks, the crossing and the deprecation period', () => {
    expect(gatesOf('approve')).toEqual([rolesApproved]);
    for (const action of ['rollout', 'promote', 'complete-rollout', 'resume']) expect(gatesOf(action), action).toEqual([approvalsCurrent]);
    expect(gatesOf('verify')).toEqual([checksPass]);
    expect(gatesOf('contract')).toEqual([crossingGate]);
    expect(gatesOf('archive')).toEqual([deprecationPassed]);
  });

  it('is frozen through, so nothing can add a move or a gate at run time', () => {
    expect(Object.isFrozen(TRANSITIONS)).toBe(true);
    for (const t of TRANSITIONS) {
      expect(Object.isFrozen(t), t.action).toBe(true);
      expect(Object.isFrozen(t.gates), t.action).toBe(true);
      expect(Object.isFrozen(t.from), t.action).toBe(true);
    }
    const gate: Gate = () => 'no';
    const approve = TRANSITIONS.find((t) => t.action === 'approve');
    expect(() => ((approve?.gates ?? []) as Gate[]).push(gate)).toThrow(TypeError);
  });

  it('words the refusal of an action asked from a phase its move does not start from', () => {
    expect(phaseRefusal('0001_x', 'paused', { action: 'resume', verb: 'resume' })).toBeUndefined();
    const resume = phaseRefusal('0001_x', 'canary', { action: 'resume', verb: 'resume' });
    expect(resume?.code).toBe('E_GATE');
    expect(resume?.message).toBe('cannot resume 0001_x: its rollout is not paused (phase canary)');
    expect(resume?.hint).toBe('see `ferry rollout 0001_x status`');
    expect(phaseRefusal('0001_x', 'verified', { action: 'complete-rollout', verb: 'advance' })?.message).toBe('cannot advance 0001_x: it is verified');
    expect(phaseRefusal('0001_x', 'canary', { action: 'contract', verb: 'clean up' })?.message).toBe(
      'cannot clean up 0001_x: it is canary, and crossing the point of no return needs a verified migration',
    );
    expect(phaseRefusal('0001_x', 'archived', { action: 'archive', verb: 'clean up' })?.message).toBe('migration 0001_x is already archived');
    expect(phaseRefusal('0001_x', 'archived', { action: 'verify', verb: 'verify' })?.hint).toBe('archived is a final phase');
    expect(() => phaseRefusal('0001_x', 'planned', { action: 'no-such-move', verb: 'x' })).toThrow(/no transition named/);
  });
});
