import type { Queryable } from '../db/database.js';

// The phases and the gate contract: what a gate is given and returns. The modules that define gates
// (check-store.ts, crossing.ts …) import these, and lifecycle.ts imports the gates, so the imports run one way
// (lifecycle.ts re-exports all of it).

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
}

/** A condition a transition needs; returns why it does not hold (a reason, or a reason with its fix), or undefined when it does. */
export type Gate = (ctx: GateContext) => Promise<string | GateRefusal | undefined> | string | GateRefusal | undefined;
