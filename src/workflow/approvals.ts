import type { Queryable } from '../db/database.js';
import type { Approval, ApprovalStatus } from '../docs/state.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { appendEvent, stateExists, stateTableExists } from '../state/store.js';
import type { GateContext, GateRefusal } from './gate.js';

export type { Approval, ApprovalStatus } from '../docs/state.js';

/** The role as the manifest spells it, matched case-insensitively; undefined when the plan names no such role. */
export function roleOf(m: Migration, role: string): string | undefined {
  const wanted = role.trim().toLowerCase();
  return m.manifest.plan.approvals.find((r) => r.toLowerCase() === wanted);
}

const approvalsTable = (db: Queryable) => stateTableExists(db, 'approvals');

async function readApprovals(db: Queryable, migrationId: string): Promise<(Approval & { required: string[] })[]> {
  if (!(await approvalsTable(db))) return [];
  const { rows } = await db.query<{ role: string; approved_by: string; checksum: string; at: string; reason: string | null; required_roles: string[] }>(
    `SELECT role, approved_by, checksum, to_char(approved_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS at, reason, required_roles
       FROM ferry.approvals WHERE migration_id = $1 ORDER BY id`,
    [migrationId],
  );
  return rows.map((r) => ({ role: r.role, by: r.approved_by, checksum: r.checksum, at: r.at, reason: r.reason, required: r.required_roles }));
}

/** Where the approvals of `migrationId` stand for `checksum`, with `required` roles (default: those the approvals recorded). */
export async function approvalStatus(db: Queryable, migrationId: string, checksum: string, required?: readonly string[]): Promise<ApprovalStatus> {
  const all = await readApprovals(db, migrationId);
  const current = all.filter((a) => a.checksum === checksum);
  const roles = required ? [...required] : (current.at(-1)?.required ?? all.at(-1)?.required ?? []);
  const latest = new Map<string, Approval>();
  for (const a of current) latest.set(a.role, { role: a.role, by: a.by, checksum: a.checksum, at: a.at, reason: a.reason });
  const approved = roles.flatMap((r) => latest.get(r) ?? []);
  const missing = roles.filter((r) => !latest.has(r));
  const stale = all.filter((a) => a.checksum !== checksum).map(({ required: _r, ...a }) => a);
  return { migrationId, checksum, required: roles, approved, missing, stale, complete: roles.length > 0 && missing.length === 0 };
}

/** Record one role's approval of `m` as its files are now, with an `approval` event. The caller holds the migration lock. */
export async function recordApproval(tx: Queryable, m: Migration, opts: { role: string; actor: string; reason?: string }): Promise<Approval> {
  const role = roleOf(m, opts.role);
  if (!role) {
    throw new FerryError(
      'E_USAGE',
      `"${opts.role}" is not an approving role of ${m.id}`,
      `its plan names: ${m.manifest.plan.approvals.map((r) => `"${r}"`).join(', ')} (plan.approvals in the manifest)`,
    );
  }
  await tx.query('INSERT INTO ferry.approvals (migration_id, role, approved_by, checksum, required_roles, reason) VALUES ($1, $2, $3, $4, $5, $6)', [
    m.id,
    role,
    opts.actor,
    m.checksum,
    m.manifest.plan.approvals,
    opts.reason ?? null,
  ]);
  await appendEvent(tx, {
    migrationId: m.id,
    actor: opts.actor,
    kind: 'approval',
    reason: `approved as ${role}${opts.reason ? `: ${opts.reason}` : ''}`,
    details: { role, checksum: m.checksum },
  });
  return { role, by: opts.actor, checksum: m.checksum, at: new Date().toISOString(), reason: opts.reason ?? null };
}

/**
 * The checksum of the migration as its files are now: the one the caller gave the
 * transition (`details.checksum`, from the loaded files, so an edit is seen before
 * the database hears of it), else the one last recorded in `ferry.migrations`.
 */
async function checksumNow(ctx: GateContext): Promise<string | undefined> {
  const given = (ctx.details as { checksum?: unknown } | undefined)?.checksum;
  if (typeof given === 'string') return given;
  const { rows } = await ctx.tx.query<{ checksum: string | null }>('SELECT checksum FROM ferry.migrations WHERE id = $1', [ctx.migrationId]);
  return rows[0]?.checksum ?? undefined;
}

const short = (c: string) => c.slice(0, 12);

/** The commands that approve `migrationId` as each of `roles`. */
const approveCommands = (migrationId: string, roles: readonly string[]) =>
  roles.length
    ? roles.map((r) => `\`ferry approve ${migrationId} --as "${r}"\``).join(', ')
    : `\`ferry approve ${migrationId} --as "<role>"\` for each role of its plan`;

/** Why the approvals of a migration do not cover its current version, with the approve commands that fix it; undefined when they do. */
async function notApproved(ctx: GateContext): Promise<GateRefusal | undefined> {
  const { tx, migrationId } = ctx;
  const checksum = await checksumNow(ctx);
  if (!checksum) return { why: 'its checksum is unknown', hint: `run ${approveCommands(migrationId, [])}` };
  const s = await approvalStatus(tx, migrationId, checksum);
  if (s.complete) return undefined;
  if (s.required.length === 0) {
    const roles = [...new Set(s.stale.map((a) => a.role))];
    return s.stale.length
      ? {
          why: `it was edited after its approvals (now ${short(checksum)}, approved ${short(s.stale.at(-1)?.checksum ?? '')}); every role must approve again`,
          hint: `each role approves again: ${approveCommands(migrationId, roles)}`,
        }
      : { why: 'no role has approved it yet', hint: `run ${approveCommands(migrationId, [])}` };
  }
  const edited = s.stale.some((a) => s.missing.includes(a.role)) ? ' (the migration was edited after their earlier approval)' : '';
  return { why: `still needs approval from ${s.missing.join(', ')}${edited}`, hint: `run ${approveCommands(migrationId, s.missing)}` };
}

/** Whether this migration was approved through its roles (not by `up` in an environment that requires no approval): its latest move to approved says. */
async function approvedByRoles(tx: Queryable, migrationId: string): Promise<boolean> {
  if (!(await stateExists(tx))) return false;
  const { rows } = await tx.query<{ details: { approvalRequired?: boolean } | null }>(
    `SELECT details FROM ferry.events WHERE migration_id = $1 AND kind = 'transition' AND to_phase = 'approved' ORDER BY id DESC LIMIT 1`,
    [migrationId],
  );
  const row = rows[0];
  return row !== undefined && row.details?.approvalRequired !== false;
}

/**
 * planned → approved: every role of the plan has approved the migration as its
 * files are now; `up` in an environment that requires no approval says so in the
 * transition's details and passes.
 */
export async function rolesApproved(ctx: GateContext): Promise<GateRefusal | undefined> {
  const d = ctx.details as { approvalRequired?: boolean } | undefined;
  if (d?.approvalRequired === false) return undefined;
  return notApproved(ctx);
}

/**
 * The rollout's moves forward (canary, rolling, rolled-out, resume): a migration
 * approved by its roles must still be approved as it is now; an edit since
 * (checksum) stops the rollout until every role approves again.
 */
export async function approvalsCurrent(ctx: GateContext): Promise<GateRefusal | undefined> {
  if (!(await approvedByRoles(ctx.tx, ctx.migrationId))) return undefined;
  const refusal = await notApproved(ctx);
  return refusal ? { why: `its approvals no longer hold: ${refusal.why}`, hint: refusal.hint } : undefined;
}

/**
 * Before `up` runs anything in an environment that requires approval: refuse a
 * migration approved by its roles whose files changed since (its approvals are
 * void), with the roles to ask again.
 */
export async function refuseStaleApprovals(db: Queryable, views: readonly { migration: Migration; pending: readonly unknown[] }[]): Promise<void> {
  for (const { migration: m, pending } of views) {
    if (pending.length === 0 || !(await approvedByRoles(db, m.id))) continue;
    const s = await approvalStatus(db, m.id, m.checksum, m.manifest.plan.approvals);
    if (s.complete) continue;
    throw new FerryError(
      'E_GATE',
      `migration ${m.id} was changed after it was approved (checksum now ${short(m.checksum)}); its approvals are void`,
      `each role approves again: ${s.missing.map((r) => `\`ferry approve ${m.id} --as "${r}"\``).join(', ')}`,
    );
  }
}
