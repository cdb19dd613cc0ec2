import { describeChange, diffSchemas, snapshotSchema } from '../db/catalog.js';
import type { Database } from '../db/database.js';
import { scratchCopy } from '../db/scratch.js';
import { isFerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { appendEvent, ensureMigrationRecord, ensureState, readState } from '../migration/state.js';
import { up } from './apply.js';
import { MIGRATION_LOCK_KEY, type RunOptions } from './execute.js';
import { down } from './rollback.js';
import { verifyMigrations } from './verify.js';

/** One stage of a rehearsal and what it found. */
export interface RehearsalStage {
  name: string;
  ok: boolean;
  detail: string[];
}

/** The result of `ferry rehearse`: did up → verify → down → up hold on a copy. */
export interface RehearsalReport {
  migrationId: string;
  copy: string;
  stages: RehearsalStage[];
  ok: boolean;
}

/**
 * Rehearse `m` on a scratch copy of `db`: up → verify → down → compare the
 * schema with the original → up again → verify. Proves the rollback plan
 * without touching the target (apart from one event in its log). Give the
 * project's `migrations` so the others applied on the copy are not missing folders.
 */
export async function rehearse(
  db: Database,
  m: Migration,
  opts: RunOptions & { lockWaitMs: number; server?: { url: string; password?: string }; migrations?: Migration[] },
): Promise<RehearsalReport> {
  const copy = await scratchCopy(db, opts.server);
  const stages: RehearsalStage[] = [];
  const { migrations: project = [m], ...rest } = opts;
  const all = project.some((x) => x.id === m.id) ? project : [...project, m];
  // On the scratch copy, values down drops are the copy's own: nothing to refuse or save.
  const runOpts = { ...rest, actor: `${opts.actor} (rehearsal)`, requireApproval: false, envNote: 'in a rehearsal', only: m.id, dataLoss: 'ignore' as const };
  const stage = async (name: string, fn: () => Promise<string[] | undefined>): Promise<boolean> => {
    try {
      const problems = (await fn()) ?? [];
      stages.push({ name, ok: problems.length === 0, detail: problems });
      return problems.length === 0;
    } catch (err) {
      stages.push({ name, ok: false, detail: [isFerryError(err) ? err.message : String(err)] });
      return false;
    }
  };
  const verify = async () => {
    const [v] = await verifyMigrations(copy.db, [m], { actor: runOpts.actor });
    return v?.steps.flatMap((s) => s.failures) ?? [];
  };
  try {
    const s = copy.db;
    const appliedBefore = new Set(((await readState(s)).applied.get(m.id) ?? []).map((a) => a.stepId));
    const lastApplied = m.steps.filter((x) => appliedBefore.has(x.id)).at(-1)?.id;
    const original = await snapshotSchema(s);
    const pendingAtStart = m.steps.some((x) => x.phase !== 'contract' && !appliedBefore.has(x.id));
    if (pendingAtStart) {
      let applied: Awaited<ReturnType<typeof snapshotSchema>> | undefined;
      (await stage('up', async () => {
        await up(s, all, runOpts);
        applied = await snapshotSchema(s);
        return undefined;
      })) &&
        (await stage('verify', verify)) &&
        (await stage(`down${lastApplied ? ` --to ${lastApplied}` : ''}`, async () => {
          await down(s, all, m.id, lastApplied ? { ...runOpts, to: lastApplied } : runOpts);
          return undefined;
        })) &&
        (await stage('schema after down equals the original', async () => diffSchemas(original, await snapshotSchema(s)).map(describeChange))) &&
        (await stage('up again', async () => {
          await up(s, all, runOpts);
          return diffSchemas(applied as typeof original, await snapshotSchema(s)).map((c) => `differs from the first up: ${describeChange(c)}`);
        })) &&
        (await stage('verify again', verify));
    } else {
      (await stage('down (all steps)', async () => {
        await down(s, all, m.id, runOpts);
        return undefined;
      })) &&
        (await stage('up', async () => {
          await up(s, all, runOpts);
          return undefined;
        })) &&
        (await stage('schema after down → up equals the original', async () => diffSchemas(original, await snapshotSchema(s)).map(describeChange))) &&
        (await stage('verify', verify));
    }
  } finally {
    await copy.dispose();
  }
  const report: RehearsalReport = { migrationId: m.id, copy: copy.method, stages, ok: stages.every((x) => x.ok) };
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    await ensureMigrationRecord(db, m.id, m.manifest.title, m.checksum);
    const failed = stages.filter((x) => !x.ok).map((x) => x.name);
    await appendEvent(db, {
      migrationId: m.id,
      actor: opts.actor,
      kind: 'rehearse',
      reason: report.ok ? `rehearsal passed: ${stages.map((x) => x.name).join(' → ')}` : `rehearsal failed at: ${failed.join(', ')}`,
      details: report,
    });
  });
  return report;
}
