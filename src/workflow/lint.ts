import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { FerryError } from '../errors.js';
import { type Finding, type LintCatalog, type LintReport, lintMigration, lintSql, readLintCatalog, refusedFindings, SqlSyntaxError } from '../lint/index.js';
import { loadAll } from '../migration/loader.js';
import { durationMs, loadProject, type Project, resolveConnection } from '../project/config.js';
import { entryExists, readTextFile, UnreadableFile } from '../project/text-file.js';
import { openEnvironment } from './environments.js';
import { projectLoadOptions, selectMigrations } from './plan-state.js';

/** The live catalog of an environment, read once; what linting against an environment gives the linter. */
export interface EnvironmentCatalog {
  env: string;
  /** The database it was read from, as the connection names it. */
  target: string;
  catalog: LintCatalog;
}

/** Options of {@link lintProject}. */
export interface LintProjectOptions {
  /** A .sql file (from the working directory), a migration id or name, or undefined for every migration of the project. */
  target?: string;
  /** The project's folder, or a folder inside it (where `ferry.config.json` is found); needed unless `target` is a SQL file and no `env` is given. */
  projectDir: string;
  /** Lint against the catalog of this environment (read once, read-only); without it no database is needed. */
  env?: string;
  /** How long to wait for the environment's database; default: the project's `lockWait`. */
  lockWaitMs?: number;
  /** Called once the environment's catalog is read, before anything is linted. */
  onCatalog?: (c: EnvironmentCatalog) => void;
}

/** One linted file or migration: its report and the error findings that refuse `ferry up`. */
export interface LintResult {
  report: LintReport;
  refused: Finding[];
}

/** What {@link lintProject} found. */
export interface ProjectLint {
  /** The folder paths are shown relative to: the project's root, or the working directory for a SQL file. */
  root: string;
  /** The environment's catalog, when `env` was given. */
  catalog?: EnvironmentCatalog;
  /** One per linted file or migration (none: the project has no migrations). */
  results: LintResult[];
  /** Every refused finding of the results. */
  refused: Finding[];
}

/** Whether a lint target names a SQL file (ends in .sql, or is a file) rather than a migration. */
export function isSqlTarget(target: string): boolean {
  return target.endsWith('.sql') || (existsSync(target) && statSync(target).isFile());
}

async function readEnvironmentCatalog(project: Project, env: string, lockWaitMs: number | undefined): Promise<EnvironmentCatalog> {
  const conn = resolveConnection(project, env);
  const db = await openEnvironment(conn, { lockWaitMs: lockWaitMs ?? durationMs(project.config.lockWait), purpose: 'lint' });
  try {
    return { env: conn.env, target: db.target, catalog: await readLintCatalog(db) };
  } finally {
    await db.close();
  }
}

async function lintFile(path: string, catalog: LintCatalog | undefined): Promise<LintReport> {
  const file = resolve(path);
  if (!entryExists(file)) throw new FerryError('E_NOT_FOUND', `no file ${path}`, 'pass a .sql file, a migration id, or nothing for every migration');
  try {
    return await lintSql(readTextFile(file), { file, ...(catalog ? { catalog } : {}) });
  } catch (err) {
    if (err instanceof SqlSyntaxError) throw new FerryError('E_LINT', `${path}:${err.line}: ${err.message}`, 'fix the SQL syntax');
    if (err instanceof UnreadableFile) throw new FerryError('E_MANIFEST', err.message, 'make it a readable UTF-8 file (check its permissions and owner)');
    throw err;
  }
}

/**
 * `ferry lint`: lint a SQL file, one migration or every migration of a project,
 * against an environment's live catalog when `env` names one. Migrations are
 * selected before any database is opened.
 */
export async function lintProject(opts: LintProjectOptions): Promise<ProjectLint> {
  const { target } = opts;
  const sqlFile = target !== undefined && isSqlTarget(target);
  let project: Project | undefined;
  const theProject = () => {
    project ??= loadProject(opts.projectDir);
    return project;
  };
  const migrations = sqlFile ? [] : selectMigrations(await loadAll(theProject().migrationsDir, projectLoadOptions(theProject())), target);
  const env = opts.env === undefined ? undefined : await readEnvironmentCatalog(theProject(), opts.env, opts.lockWaitMs);
  if (env) opts.onCatalog?.(env);
  const catalog = env?.catalog;
  const results: LintResult[] = [];
  if (sqlFile) {
    const report = await lintFile(target, catalog);
    results.push({ report, refused: refusedFindings(report) });
  }
  for (const m of migrations) {
    const report = lintMigration(m, catalog ? { catalog } : {});
    results.push({ report, refused: refusedFindings(report, m.manifest) });
  }
  return {
    root: sqlFile ? process.cwd() : theProject().root,
    ...(env ? { catalog: env } : {}),
    results,
    refused: results.flatMap((r) => r.refused),
  };
}

/** The E_LINT refusal of a lint that found error findings not acknowledged; undefined when none. */
export function lintRefusal(refused: readonly Finding[]): FerryError | undefined {
  if (refused.length === 0) return undefined;
  return new FerryError(
    'E_LINT',
    `${refused.length} error-level finding${refused.length === 1 ? '' : 's'} not acknowledged: ${[...new Set(refused.map((f) => f.rule))].join(', ')}`,
    'fix the SQL as each finding suggests; or disable a rule for one statement with `-- ferry-lint-disable <rule> -- <reason>`, or acknowledge it in the manifest ("lint": { "acknowledge": ["step:rule"] })',
  );
}
