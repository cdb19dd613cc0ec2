import { z } from 'zod';
import { parseHold } from '../rollout/schedule.js';

/** The four phases of the workflow a migration's plan, timeline and tickets follow. */
export const WORKFLOW_PHASES = ['plan', 'preparation', 'rollout', 'cleanup'] as const;
/** One phase of the workflow (not a lifecycle phase: each spans several of those). */
export type WorkflowPhase = (typeof WORKFLOW_PHASES)[number];

/** Facts ferry records that can prove a success criterion (the report ticks a box only from these). */
export const PROOFS = ['applied', 'backfilled', 'rolled-out', 'verified', 'no-data-errors', 'no-rollbacks', 'rehearsed', 'contracted', 'archived'] as const;
/** A recorded fact a success criterion can name as its proof. */
export type Proof = (typeof PROOFS)[number];

const duration = z.string().refine((d) => parseHold(d) !== undefined, 'must be a duration like "4h", "2d" or "90d"');
const level = z.enum(['low', 'medium', 'high']);

/** The roles whose approval a migration needs unless its plan names others. */
export const DEFAULT_APPROVAL_ROLES = ['Tech Lead', 'Product Owner', 'Stakeholders'] as const;
/** The deprecation period before cleanup (announce T+0 … disable T+90 d). */
export const DEFAULT_DEPRECATION_PERIOD = '90d';
/** Planned durations when the plan gives none; rollout defaults to its stage holds. */
export const DEFAULT_PHASE_DURATIONS: Record<Exclude<WorkflowPhase, 'rollout' | 'cleanup'>, string> = { plan: '2d', preparation: '3d' };

/** The manifest's `plan`: what `ferry plan` renders beside the live data volume; every field has a default. */
export const planSchema = z.strictObject({
  scope: z
    .strictObject({
      systems: z.array(z.string().min(1)).default([]).describe('Systems (services, jobs, consumers) the change reaches.'),
      users: z.string().default('').describe('Who notices the change, and how many.'),
    })
    .prefault({})
    .describe('Systems and people the change reaches; the data volume is measured by `ferry plan`, never written here.'),
  timeline: z
    .partialRecord(z.enum(WORKFLOW_PHASES), duration)
    .default({})
    .describe(
      'Planned duration per workflow phase (plan, preparation, rollout, cleanup), like "2d"; defaults: plan 2d, preparation 3d, rollout the sum of the stage holds, cleanup the deprecation period.',
    ),
  risks: z
    .array(
      z.strictObject({
        risk: z.string().min(1).describe('What could go wrong.'),
        likelihood: level.describe('low, medium or high.'),
        impact: level.describe('low, medium or high.'),
        mitigation: z.string().min(1).describe('What keeps it small.'),
      }),
    )
    .default([])
    .describe('The risk register the plan shows.'),
  successCriteria: z
    .array(
      z.union([
        z.string().min(1),
        z.strictObject({
          text: z.string().min(1).describe('The criterion.'),
          proof: z.enum(PROOFS).optional().describe('The recorded fact that proves it; the report ticks the box only when the event log shows it.'),
        }),
      ]),
    )
    .default([])
    .describe('Criteria for success: a text, or {text, proof}; one with a proof is ticked in the report when the event log proves that fact.'),
  rollbackCriteria: z.array(z.string().min(1)).default([]).describe("When to roll back, besides the decision matrix's red."),
  approvals: z
    .array(z.string().trim().min(1))
    .min(1, 'name at least one approving role')
    .refine((r) => new Set(r.map((x) => x.toLowerCase())).size === r.length, 'roles must be unique')
    .default([...DEFAULT_APPROVAL_ROLES])
    .describe('Roles that must each approve (`ferry approve <id> --as ROLE`) before planned → approved; unique, case-insensitively.'),
  deprecationPeriod: duration
    .default(DEFAULT_DEPRECATION_PERIOD)
    .describe('How long after reaching 100 % cleanup must wait (the old shape\'s deprecation period), like "90d"; `cleanup --force --reason` skips it.'),
});

/** A validated plan with defaults. */
export type Plan = z.output<typeof planSchema>;

/** One success criterion, normalised. */
export interface SuccessCriterion {
  text: string;
  proof?: Proof;
}

/** The plan's success criteria as `{ text, proof? }`. */
export function successCriteriaOf(plan: Plan): SuccessCriterion[] {
  return plan.successCriteria.map((c) => (typeof c === 'string' ? { text: c } : c.proof ? { text: c.text, proof: c.proof } : { text: c.text }));
}

/** Milliseconds of a plan duration (validated by the schema). */
export function planDurationMs(text: string): number {
  return parseHold(text) ?? 0;
}
