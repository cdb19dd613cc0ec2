import { describeChange, diffSchemas, snapshotSchema } from '../db/catalog.js';
import type { Database } from '../db/database.js';
import { copyRows, type SampleSize } from '../db/sample-copy.js';
import { scratchCopy } from '../db/scratch.js';
import { isFerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { appendEvent, ensureMigrationRecord, ensureState, readState } from '../state/store.js';
import { up } from './apply.js';
import { MIGRATION_LOCK_KEY, type ProgressEvent, type RunOptions } from './execute.js';
import { namedRelations, type RehearsalData, type RehearsalStepData, rehearsalSummary, resolveTables, touchedTables, userTables } from './rehearse-data.js';
import { down } from './rollback.js';
import { verifyMigrations } from './verify.js';

/** One stage of a rehearsal and what it found. */
export interface RehearsalStage {
  name: string;
  ok: boolean;
  detail: string[];
}

/** The result of `ferry rehearse`: did up → verify → down → up hold on a copy, and on what data. */
export interface RehearsalReport {
  migrationId: string;
  copy: string;
  /** The rows the copy held: a sample of the tables the steps touch, all of them, or none. */
  data: RehearsalData;
  stages: RehearsalStage[];
  /** Per step the rehearsal ran: the rows of the tables it touched (rehearsal and source), the rows it changed, whether they were empty. */
  steps: RehearsalStepData[];
  ok: boolean;
  /** One line: passed or failed, and whether it proved the data or only the schema ("rehearsal passed (schema only: 2 steps ran on empty tables)"). */
  summary: string;
}

/** Rows per table a rehearsal on a server copies unless told otherwise. */
export const DEFAULT_SAMPLE_ROWS = 10_000;

/** Options of {@link rehearse}. */
export type RehearseOptions = RunOptions & {
  lockWaitMs: number;
  server?: { url: string; password?: string };
  migrations?: Migration[];
  /** On a server: rows per table copied (default 10,000; 0 = schema only), or `all`. A PGlite copy holds every row. */
  sampleRows?: SampleSize;
};

/** Fill the copy (on a server) with the rows of the tables `steps` touch: the data the rehearsal runs on. */
async function fillCopy(db: Database, copy: Database, steps: readonly Step[], size: SampleSize): Promise<RehearsalData> {
  const named = steps.map(namedRelations);
  const unknown = named.find((n) => n.unknown)?.unknown;
  const tables = unknown
    ? await userTables(db)
    : await resolveTables(
        db,
        named.flatMap((n) => n.names),
      );
  if (db.kind === 'pglite') {
    const figures = await touchedTables(copy, db, tables, []);
    const all = figures.map((t) => ({
      table: t.table,
      sourceRows: t.sourceRows,
      sourceRowsEstimated: t.sourceRowsEstimated,
      copied: t.rehearsalRows,
      complete: true,
      referenced: 0,
      skipped: 0,
    }));
    return { mode: 'all', sampleRows: null, tables: all, ...(unknown ? { allTables: unknown } : {}) };
  }
  if (size === 0) return { mode: 'schema', sampleRows: 0, tables: [] };
  const copied = await copyRows(db, copy, tables, size);
  return {
    mode: size === 'all' ? 'all' : 'sample',
    sampleRows: size === 'all' ? null : size,
    tables: copied,
    ...(unknown ? { allTables: `${unknown} names no tables` } : {}),
  };
}

/**
 * Rehearse `m` on a scratch copy of `db`: up → verify → down → compare the
 * schema with the original → up again → verify. Proves the rollback plan
 * without touching the target (apart from one event in its log). Give the
 * project's `migrations` so the others applied on the copy are not missing folders.
 */
export async function rehearse(db: Database, m: Migration, opts: RehearseOptions): Promise<RehearsalReport> {
  const copy = await scratchCopy(db, opts.server);
  const stages: RehearsalStage[] = [];
  const { migrations: project = [m], sampleRows = DEFAULT_SAMPLE_ROWS, ...rest } = opts;
  const all = project.some((x) => x.id === m.id) ? project : [...project, m];
  // What each step changed in the first up: its statements' affected rows, or the rows its backfill filled.
  const changed = new Map<string, number>();
  const onProgress = (e: ProgressEvent) => {
    if (e.type === 'backfill' && e.progress.migrationId === m.id && e.progress.state === 'done' && !changed.has(e.progress.stepId))
      changed.set(e.progress.stepId, e.progress.rowsDone);
    if (e.type === 'step' && e.report.migrationId === m.id && e.report.direction === 'forward' && !changed.has(e.report.stepId))
      changed.set(
        e.report.stepId,
        e.report.statements.reduce((n, s) => n + (s.affectedRows ?? 0), 0),
      );
  };
  const runOpts = {
    ...rest,
    onProgress,
    actor: `${opts.actor} (rehearsal)`,
    requireApproval: false,
    envNote: 'in a rehearsal',
    only: m.id,
    dataLoss: 'ignore' as const,
  };
  // (On the scratch copy, values down drops are the copy's own: nothing to refuse or save.)
  let data: RehearsalData = { mode: 'schema', sampleRows: 0, tables: [] };
  const steps: RehearsalStepData[] = [];
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
    const pendingAtStart = m.steps.some((x) => x.phase !== 'contract' && !appliedBefore.has(x.id));
    const run = m.steps.filter((x) => x.phase !== 'contract' && (!pendingAtStart || !appliedBefore.has(x.id)));
    const what =
      db.kind === 'pglite'
        ? 'count the rows (PGlite copies every row)'
        : sampleRows === 0
          ? 'schema only (--sample-rows 0)'
          : sampleRows === 'all'
            ? 'copy data (all rows)'
            : `copy data (up to ${sampleRows.toLocaleString('en-US')} rows per table)`;
    const filled = await stage(what, async () => {
      data = await fillCopy(db, s, run, sampleRows);
      for (const step of run) {
        const named = namedRelations(step);
        const tables = await touchedTables(s, db, await resolveTables(db, named.names), data.tables);
        steps.push({
          stepId: step.id,
          kind: step.kind,
          tables,
          ...(named.unknown ? { tablesUnknown: named.unknown } : {}),
          rowsChanged: null,
          ranOnEmptyTables: tables.length > 0 && tables.every((t) => t.rehearsalRows === 0),
        });
      }
      return data.tables.filter((t) => t.skipped > 0).map((t) => `${t.table}: ${t.skipped} source row(s) not copied: ${t.skippedReason}`);
    });
    const original = await snapshotSchema(s);
    if (!filled) {
      // The copy could not be filled: nothing below would prove anything.
    } else if (pendingAtStart) {
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
  for (const st of steps) st.rowsChanged = changed.get(st.stepId) ?? null;
  const ok = stages.every((x) => x.ok);
  const failed = stages.filter((x) => !x.ok).map((x) => x.name);
  const summary = rehearsalSummary(ok, failed, data, steps);
  const report: RehearsalReport = { migrationId: m.id, copy: copy.method, data, stages, steps, ok, summary };
  await db.withAdvisoryLock(MIGRATION_LOCK_KEY, opts.lockWaitMs, async () => {
    await ensureState(db);
    await ensureMigrationRecord(db, m.id, m.manifest.title, m.checksum);
    await appendEvent(db, {
      migrationId: m.id,
      actor: opts.actor,
      kind: 'rehearse',
      reason: report.ok
        ? `${summary.replace(/: the rollback restores the schema$/, '')}: ${stages.map((x) => x.name).join(' → ')}`
        : `rehearsal failed at: ${failed.join(', ')}`,
      details: report,
    });
  });
  return report;
}
