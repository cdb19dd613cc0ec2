import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import { assessHealth, sourceFor } from '../health/assess.js';
import { readController } from '../health/controller-state.js';
import { explain } from '../health/matrix.js';
import { controllerTargetOf } from '../health/target.js';
import type { Colour } from '../health/thresholds.js';
import type { Migration } from '../migration/loader.js';
import { readFlag } from '../rollout/flags.js';
import { effectivePercentage, formatPercentage } from '../rollout/percentage.js';
import { readRollout } from '../rollout/stages.js';
import { stateTableExists } from '../state/store.js';
import { declarationHash } from '../verify/declared.js';
import { checksPass, dataErrors, latestResults } from './check-store.js';
import type { GateContext } from './gate.js';

/** Why a migration may not cross its point of no return (contract, cleanup), with the numbers and the fix. */
export interface CrossingVerdict {
  ok: boolean;
  /** One sentence per unmet condition: which check, how many data errors, the health colour and why, the rollback in force. */
  problems: string[];
  /** The exact commands that fix them, in order. */
  fixes: string[];
  /** The health colour judged (as `ferry health` shows it); null when the migration names no flag. */
  health: Colour | null;
}

const when = (iso: string) => iso.slice(0, 19).replace('T', ' ');

/** The declared checks' problems: each check's latest result (any mode) must pass for its current declaration, after at least one `--full` run. */
async function checkProblems(db: Queryable, m: Migration): Promise<string[]> {
  if (m.manifest.checks.length === 0) return [];
  const latest = (await latestResults(db, { migrationId: m.id })).get(m.id) ?? [];
  const full = (await latestResults(db, { migrationId: m.id, mode: 'full' })).get(m.id) ?? [];
  const out: string[] = [];
  for (const c of m.manifest.checks) {
    const decl = declarationHash(c);
    const last = latest.find((r) => r.check === c.name);
    const lastFull = full.find((r) => r.check === c.name);
    if (!last) out.push(`check ${c.name} has never run`);
    else if (last.declaration !== decl) out.push(`check ${c.name} changed since its last run`);
    else if (!last.ok)
      out.push(
        `check ${c.name} failed its latest run (${last.mode === 'full' ? '--full' : 'sampled'}, ${when(last.finishedAt)} UTC): ${last.error ?? `${last.dataErrors} data error${last.dataErrors === 1 ? '' : 's'}`}`,
      );
    else if (!lastFull || lastFull.declaration !== decl) out.push(`check ${c.name} has not run with --full for its current declaration`);
  }
  return out;
}

/** The flag key of a migration: its rollout's, else the stored flag it owns. */
async function flagKeyOf(db: Queryable, migrationId: string): Promise<string | undefined> {
  const r = await readRollout(db, migrationId);
  if (r) return r.flagKey;
  if (!(await stateTableExists(db, 'flags'))) return undefined;
  const { rows } = await db.query<{ key: string }>('SELECT key FROM ferry.flags WHERE migration_id = $1 ORDER BY key LIMIT 1', [migrationId]);
  return rows[0]?.key;
}

/**
 * An unresolved rollback of a migration, or undefined. Concretely: its flag is
 * stored but lets in less than 100 % (a quick rollback or a lowered flag is in
 * force), or its rollout controller is `paused` or `rolled-back` since after the
 * migration last reached rolled-out (a pause or rollback decision no
 * `ferry rollout <id> resume` or completed rollout has followed). Reads the database only.
 */
export async function unresolvedRollback(db: Queryable, migrationId: string): Promise<{ problem: string; fix: string } | undefined> {
  const key = await flagKeyOf(db, migrationId);
  const flag = key ? await readFlag(db, key) : undefined;
  if (flag && !flag.graduatedAt && effectivePercentage(flag) < 100) {
    return {
      problem: `flag ${flag.key} is ${flag.enabled ? `at ${formatPercentage(flag.percentage)}` : 'off (a quick rollback is in force)'}, so part of the traffic is still on the old path`,
      fix: `investigate, then \`ferry flag set ${flag.key} true\` and \`ferry verify ${migrationId} --full\``,
    };
  }
  const c = await readController(db, migrationId);
  if (c && (c.state === 'paused' || c.state === 'rolled-back')) {
    const { rows } = await db.query<{ at: Date | string | null }>(
      `SELECT max(at) AS at FROM ferry.events WHERE migration_id = $1 AND kind = 'transition' AND to_phase = 'rolled-out' AND from_phase IS DISTINCT FROM 'verified'`,
      [migrationId],
    );
    const at = rows[0]?.at;
    if (!at || c.updatedAt.getTime() > new Date(at).getTime()) {
      return {
        problem: `the rollout controller ${c.state === 'paused' ? 'paused' : 'rolled back'} the rollout${c.reason ? ` (${c.reason})` : ''} and nothing resolved it since`,
        fix: `\`ferry rollout ${migrationId} resume\` once it is understood (see \`ferry rollout ${migrationId} status\`)`,
      };
    }
  }
  return undefined;
}

/** Whether any contract step of the migration is applied: its point of no return is already crossed, so finishing is allowed. */
export async function contractStarted(db: Queryable, migrationId: string): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM ferry.applied_steps WHERE migration_id = $1 AND phase = 'contract' LIMIT 1`, [migrationId]);
  return rows.length > 0;
}

/**
 * The gates of crossing the point of no return (verified → contracted, and so
 * cleanup): every declared check's latest result passes for its current
 * declaration and has run with `--full`; health is not red (the colour
 * `ferry health` shows; "no data" is not red); no unresolved rollback.
 */
export async function crossingGates(db: Queryable, m: Migration): Promise<CrossingVerdict> {
  const problems: string[] = [];
  const fixes: string[] = [];
  const checks = await checkProblems(db, m);
  if (checks.length) {
    problems.push(...checks);
    fixes.push(
      `repair the rows (or the checks), then \`ferry verify ${m.id} --full\` until every check passes${m.manifest.checks.length ? ` (${m.manifest.checks.map((c) => c.name).join(', ')})` : ''}`,
    );
  }
  let health: Colour | null = null;
  if (m.manifest.flag) {
    const t = controllerTargetOf(m);
    const matrix = await assessHealth(db, t, sourceFor(db, t.settings), { checkDataErrors: await dataErrors(db, m.id) });
    health = matrix.colour;
    if (matrix.colour === 'red') {
      problems.push(`health is red (${explain(matrix)})`);
      fixes.push(`see \`ferry health ${m.id}\`; contract waits until it is green, yellow or has no data`);
    }
  }
  const rollback = await unresolvedRollback(db, m.id);
  if (rollback) {
    problems.push(rollback.problem);
    fixes.push(rollback.fix);
  }
  return { ok: problems.length === 0, problems, fixes, health };
}

/** Refuse (E_GATE) to `what` (contract, clean up) a migration whose crossing gates do not hold; nothing has been changed. */
export function refuseCrossing(m: Migration, v: CrossingVerdict, what: string): void {
  if (v.ok) return;
  throw new FerryError(
    'E_GATE',
    `cannot ${what} ${m.id}: it would pass the point of no return with ${v.problems.join('; ')}. Nothing was changed`,
    v.fixes.join('; then '),
  );
}

/** Event kind `contract` writes when the crossing gates held, just before its first contract step. */
export const CROSSING_EVENT = 'crossing';

/**
 * Gate of verified → contracted in the transition table, on the database alone:
 * `contract` judged the crossing gates (a `crossing` event since the migration
 * last became verified, with health not red); and while no contract step is
 * applied yet, the checks gate and "no unresolved rollback" hold now too. Once a
 * contract step is applied the data the checks compared may be gone, so the
 * judgement recorded before it counts, and an interrupted contract can finish.
 */
export async function crossingGate(ctx: GateContext): Promise<string | undefined> {
  const why: string[] = [];
  const { rows } = await ctx.tx.query<{ health: string | null }>(
    `SELECT e.details->>'health' AS health FROM ferry.events e
      WHERE e.migration_id = $1 AND e.kind = $2
        AND e.id > coalesce((SELECT max(id) FROM ferry.events WHERE migration_id = $1 AND kind = 'transition' AND to_phase = 'verified'), 0)
      ORDER BY e.id DESC LIMIT 1`,
    [ctx.migrationId, CROSSING_EVENT],
  );
  const judged = rows[0];
  if (!judged) why.push(`the crossing gates were not judged since it became verified (run \`ferry contract ${ctx.migrationId}\`)`);
  else if (judged.health === 'red') why.push(`health was red (see \`ferry health ${ctx.migrationId}\`)`);
  if (!(await contractStarted(ctx.tx, ctx.migrationId))) {
    const checks = await checksPass(ctx);
    if (checks) why.push(checks);
    const rollback = await unresolvedRollback(ctx.tx, ctx.migrationId);
    if (rollback) why.push(`${rollback.problem} (${rollback.fix})`);
  }
  return why.length ? why.join('; ') : undefined;
}
