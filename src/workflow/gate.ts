import type { Queryable } from '../db/database.js';

// The phases and the gate contract: what a gate is given and returns. The modules that define gates
// (approvals.ts, check-store.ts, crossing.ts, deprecation.ts) import only this module, and lifecycle.ts imports
// the gates into its one static table, so the imports run one way (lifecycle.ts re-exports all of it).

/** The phases of one migration's life (DESIGN.md, "Lifecycle of one migration"). */
export const PHASES = [
  'planned',
  'approved',
  'expanded',
  'backfilling',
  'backfilled',
  'canary',
  'rolling',
  'rolled-out',
  'verified',
  'contracted',
  'archived',
  'rolled-back',
  'paused',
] as const;

/** A lifecycle phase. */
export type Phase = (typeof PHASES)[number];

/** What the database and the migration look like when a transition is asked for; gates read it. */
export interface GateContext {
  tx: Queryable;
  migrationId: string;
  from: Phase;
  to: Phase;
  actor: string;
  /** The details the caller gave the transition (e.g. `{ approvalRequired: false }` from `up`). */
  details?: unknown;
}

/** Why a gate refuses a transition, with the exact fix (a command to run) when the gate knows one. */
export interface GateRefusal {
  why: string;
  hint: string;
  /**
   * The whole sentence, when the refusal is worded for the action that asks (`cannot clean up <id>: …`);
   * without it the refusal reads `migration <id> cannot move from <from> to <to>: <why>`.
   */
  message?: string;
}

/** How a move words its refusal, to the action asking for it (`verb`), from a phase it does not start from: the reason (after `cannot <verb> <id>: `) and the fix. */
export type PhaseRefusal = (phase: Phase, migrationId: string, verb: string) => GateRefusal;

/** A condition a transition needs; returns why it does not hold (a reason, or a reason with its fix), or undefined when it does. */
export type Gate = (ctx: GateContext) => Promise<string | GateRefusal | undefined> | string | GateRefusal | undefined;
