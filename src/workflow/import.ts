import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import type { Database } from '../db/database.js';
import { parserReady, SqlSyntaxError, type Statement, splitStatements } from '../db/sql-script.js';
import { FerryError } from '../errors.js';
import { importedFolder, importedIds } from '../import/folder.js';
import { READERS } from '../import/tools/index.js';
import type { ForeignMigration, ImportTool, ToolHistory } from '../import/types.js';
import { MANIFEST_SCHEMA_FILE } from '../migration/json-schema.js';
import { loadMigration, type Migration } from '../migration/loader.js';
import type { Project } from '../project/config.js';
import { writeSchema } from '../project/scaffold.js';
import { entryExists } from '../project/text-file.js';
import { readState } from '../state/store.js';
import { baseline } from './apply.js';
import type { RunOptions } from './execute.js';

/** Options of {@link importMigrations}. */
export interface ImportOptions {
  tool: ImportTool;
  /** The tool's migration folder, relative to the project root or absolute; default: the tool's own default. */
  dir?: string;
  /** Only say what would be written and recorded. */
  dryRun: boolean;
  /** Write (and record) what can be imported even when some migrations cannot be imported faithfully. */
  force: boolean;
}

/** Why one of the tool's migrations cannot be imported faithfully. */
export interface ImportProblem {
  version: string;
  /** missing: the tool recorded it but its file is gone; edited: its file no longer has the checksum the tool recorded; dirty / failed: the tool's run of it did not finish; unparsable: PostgreSQL's parser rejects it; repeatable: Flyway re-runs it on change, ferry has no such step; conflict: a different ferry migration has its id. */
  kind: 'missing' | 'edited' | 'dirty' | 'failed' | 'unparsable' | 'repeatable' | 'conflict';
  message: string;
}

/** One migration of the import. */
export interface ImportedMigration {
  id: string;
  version: string;
  files: string[];
  /** The tool's history says it ran (only with a database). */
  applied: boolean;
  /** written: a new folder; unchanged: the same folder was there (an earlier import); skipped: not written, see problems. */
  folder: 'written' | 'unchanged' | 'skipped';
  /** Recorded as applied in ferry by this import (`baseline`, nothing run). */
  recorded: boolean;
  steps: number;
  /** No rollback: the tool has no down SQL for it (a code migration: no `down`, or it is opaque). */
  irreversible: boolean;
  /** A code migration ferry cannot run (its module does not load): why. Imported as an irreversible step that refuses to run. */
  opaque?: string;
}

/** What an import did, or (dry-run, or refused) would do. */
export interface ImportReport {
  tool: ImportTool;
  dir: string;
  /** The history table read, with a database. */
  table?: string;
  dryRun: boolean;
  migrations: ImportedMigration[];
  problems: ImportProblem[];
}

/** Compare two versions the way the tools order them: dot-separated parts, numerically where both are digits. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.');
  const pb = b.split('.');
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '0';
    const y = pb[i] ?? '0';
    if (/^\d+$/.test(x) && /^\d+$/.test(y)) {
      const d = BigInt(x) - BigInt(y);
      if (d !== 0n) return d < 0n ? -1 : 1;
    } else if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/** The versions the history says were applied, and the problems of its rows. */
function appliedVersions(history: ToolHistory, foreign: readonly ForeignMigration[]): { applied: Set<string>; problems: ImportProblem[] } {
  const applied = new Set<string>();
  const problems: ImportProblem[] = [];
  const byVersion = new Map(foreign.map((m) => [m.version, m]));
  if (history.upTo !== undefined) {
    const upTo = history.upTo;
    for (const m of foreign) if (!m.version.startsWith('R__') && compareVersions(m.version, upTo) <= 0) applied.add(m.version);
  }
  // A version may have several rows (Prisma: a failed attempt, then a success): one applied row settles it.
  const settled = new Set(history.rows.filter((r) => r.status === 'applied').map((r) => r.version));
  for (const r of history.rows) {
    if (r.status === 'rolled-back') continue;
    if (r.status === 'dirty' || r.status === 'failed') {
      if (settled.has(r.version)) continue;
      if (r.message !== undefined) {
        problems.push({ version: r.version, kind: r.status, message: r.message });
        continue;
      }
      const why =
        r.status === 'dirty'
          ? `${history.table} is dirty at version ${r.version}: the tool stopped inside that migration, and the database may hold part of it`
          : `${history.table} records a failed run of ${r.version}`;
      problems.push({
        version: r.version,
        kind: r.status,
        message: `${why}; fix it with the tool first (finish or undo that migration and clear the flag), then import`,
      });
      continue;
    }
    applied.add(r.version);
    const m = byVersion.get(r.version);
    if (!m) {
      if (history.upTo === undefined || r.version !== history.upTo) {
        problems.push({
          version: r.version,
          kind: 'missing',
          message: `${history.table} records ${r.version} as applied, but no migration file has that version`,
        });
      }
      continue;
    }
    if (r.checksum !== undefined && m.toolChecksum !== undefined && r.checksum !== m.toolChecksum) {
      problems.push({
        version: r.version,
        kind: 'edited',
        message: `${m.files[0]} was edited after it was applied: ${history.table} records checksum ${r.checksum}, the file now has ${m.toolChecksum}`,
      });
    }
  }
  if (history.upTo !== undefined && !byVersion.has(history.upTo) && !history.rows.some((r) => r.status !== 'applied')) {
    problems.push({
      version: history.upTo,
      kind: 'missing',
      message: `${history.table} is at version ${history.upTo}, but no migration file has that version`,
    });
  }
  return { applied, problems };
}

/** The files of a folder on disk, by name (an import compares them with what it would write). */
function folderOnDisk(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(dir)) out[name] = readFileSync(join(dir, name), 'utf8');
  return out;
}

const sameFiles = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length && Object.entries(a).every(([k, v]) => b[k] === v);

/** Write a folder whole or not at all: into `.ferry/import` first, then renamed into place. */
function writeFolder(project: Project, id: string, files: Record<string, string>): void {
  const staging = join(project.root, '.ferry', 'import', id);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(join(staging, name), text);
  mkdirSync(project.migrationsDir, { recursive: true });
  renameSync(staging, join(project.migrationsDir, id));
}

/**
 * Import another tool's migrations into `project`: read its folder, and with
 * `db` its history table; list what cannot be imported faithfully and, when
 * something cannot (and not `force`), refuse with E_DRIFT before writing
 * anything. Otherwise write one ferry migration per migration (forward SQL, the
 * tool's rollback, verify SQL from the parse tree) and, with `db`, record the
 * ones the tool applied as applied in ferry without running them. The tool's
 * own table is only read. Running it again writes and records only what is missing.
 */
export async function importMigrations(
  project: Project,
  db: Database | undefined,
  opts: ImportOptions & { run: RunOptions; lockWaitMs: number },
): Promise<ImportReport> {
  const reader = READERS[opts.tool];
  const given = opts.dir ?? reader.defaultDir;
  const dir = isAbsolute(given) ? given : resolve(project.root, given);
  if (resolve(dir) === resolve(project.migrationsDir)) {
    throw new FerryError(
      'E_USAGE',
      `${dir} is ferry's own migrations folder (migrationsDir in ferry.config.json), not ${opts.tool}'s`,
      `move ${opts.tool}'s migrations to another folder and pass it with --dir, or set another migrationsDir for ferry`,
    );
  }
  if (!entryExists(dir)) {
    throw new FerryError(
      'E_USAGE',
      `no ${opts.tool} migrations folder at ${dir}`,
      `pass the folder with --dir (default for ${opts.tool}: ${reader.defaultDir})`,
    );
  }
  const foreign = reader.read(dir).sort((a, b) => (a.version.startsWith('R__') ? 1 : 0) - (b.version.startsWith('R__') ? 1 : 0));
  // Code migrations (node-pg-migrate, Knex): load each module, one at a time, to learn whether ferry can run it.
  if (reader.inspect) for (const [i, m] of foreign.entries()) foreign[i] = await reader.inspect(m);
  const problems: ImportProblem[] = [];
  let history: ToolHistory | undefined;
  let applied = new Set<string>();
  if (db) {
    history = await reader.history(db);
    if (!history) {
      throw new FerryError(
        'E_NOT_FOUND',
        `no ${opts.tool} history table in ${db.target}: ${opts.tool} has not run there`,
        'pick the environment where the tool applied its migrations with --env, or import without --env to write the migrations only',
      );
    }
    const seen = appliedVersions(history, foreign);
    applied = seen.applied;
    problems.push(...seen.problems);
  }

  await parserReady();
  const importable = foreign.filter((m) => !m.version.startsWith('R__'));
  for (const m of foreign.filter((x) => x.version.startsWith('R__'))) {
    problems.push({
      version: m.version,
      kind: 'repeatable',
      message: `${m.files[0]} is a repeatable migration, re-run whenever it changes; ferry has no such step, so it is left out`,
    });
  }
  const ids = importedIds(importable);
  // `there`: a folder with this id is already in the project (an earlier import wrote it, or a conflict).
  const plans: { m: ForeignMigration; id: string; files?: Record<string, string>; there?: boolean }[] = [];
  for (const [i, m] of importable.entries()) {
    const id = ids[i] as string;
    let statements: Statement[];
    try {
      // An empty up block (a no-op migration) has no statements to parse.
      statements = m.up.trim() === '' ? [] : splitStatements(m.up);
    } catch (err) {
      if (!(err instanceof SqlSyntaxError)) throw err;
      problems.push({ version: m.version, kind: 'unparsable', message: `${m.files[0]}:${err.line}: PostgreSQL's parser rejects it: ${err.message}` });
      plans.push({ m, id });
      continue;
    }
    const there = join(project.migrationsDir, id);
    const files = importedFolder(opts.tool, m, statements, there);
    const exists = entryExists(there);
    if (exists && !sameFiles(folderOnDisk(there), files)) {
      problems.push({
        version: m.version,
        kind: 'conflict',
        message: `${relative(project.root, there)} exists and is not what this import writes; move it away or import into another project`,
      });
      plans.push({ m, id });
      continue;
    }
    plans.push({ m, id, files, there: exists });
  }

  const blocked = new Set(problems.map((p) => p.version));
  const report: ImportReport = {
    tool: opts.tool,
    dir,
    ...(history ? { table: history.table } : {}),
    dryRun: opts.dryRun,
    problems,
    migrations: plans.map(({ m, id, files, there }) => ({
      id,
      version: m.version,
      files: m.files,
      applied: applied.has(m.version),
      folder: files && !(blocked.has(m.version) && !opts.force) ? (there ? 'unchanged' : 'written') : 'skipped',
      recorded: false,
      steps: files ? (m.code ? 1 : Object.keys(files).filter((f) => f.endsWith('.up.sql')).length) : 0,
      irreversible: m.code ? !m.code.reversible || m.code.opaque !== undefined : m.down === undefined,
      ...(m.code?.opaque === undefined ? {} : { opaque: m.code.opaque }),
    })),
  };
  if (problems.length > 0 && !opts.force) {
    throw new FerryError(
      'E_DRIFT',
      `${problems.length} of ${opts.tool}'s migrations cannot be imported faithfully; nothing was written:\n  ${problems.map((p) => p.message).join('\n  ')}`,
      'fix each one (with the tool, or by restoring the file), or pass --force to import the rest: missing ones are left out, edited ones are taken as the files are now, unfinished ones are not recorded as applied',
      { report },
    );
  }
  if (opts.dryRun) return report;

  const written = plans.filter((p, i) => p.files && report.migrations[i]?.folder === 'written');
  if (written.length > 0) writeSchema(join(project.migrationsDir, MANIFEST_SCHEMA_FILE), 'manifest');
  for (const p of written) writeFolder(project, p.id, p.files as Record<string, string>);
  if (!db) return report;

  const state = await readState(db);
  for (const [i, p] of plans.entries()) {
    const entry = report.migrations[i] as ImportedMigration;
    const dirty = problems.some((x) => x.version === p.m.version && (x.kind === 'dirty' || x.kind === 'failed'));
    if (!entry.applied || entry.folder === 'skipped' || dirty) continue;
    const m: Migration = await loadMigration(join(project.migrationsDir, p.id), p.id);
    if ((state.applied.get(p.id)?.length ?? 0) >= m.steps.length) continue;
    await baseline(db, m, { ...opts.run, requireApproval: false, lockWaitMs: opts.lockWaitMs, skipVerify: true });
    entry.recorded = true;
  }
  return report;
}
