import { statSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { type CheckFinding, type CheckRehearsal, failingFindings, type PrCheckReport } from '../check/report.js';
import type { Database } from '../db/database.js';
import { FerryError, isFerryError } from '../errors.js';
import { type Finding, lintMigration, readLintCatalog } from '../lint/index.js';
import { ARCHIVE_DIR, archivedFolders, MANIFEST_FILES, migrationFolders } from '../migration/files.js';
import { loadMigration, type Migration } from '../migration/loader.js';
import { type Connection, durationMs, loadProject, type Project, resolveConnection } from '../project/config.js';
import { currentActor, readState } from '../state/store.js';
import { up } from './apply.js';
import { openEnvironment } from './environments.js';
import { git, gitSaid, projectPathIn, resolveBase, slashed } from './git-base.js';
import { projectLoadOptions } from './plan-state.js';
import { rehearse } from './rehearse.js';

export type { CheckFinding, CheckLevel, CheckRehearsal, PrCheckReport } from '../check/report.js';

/** Options of {@link prCheck}. */
export interface PrCheckOptions {
  /** The project's folder, or a folder inside it; it must be inside a git work tree. */
  projectDir: string;
  /** The git ref to compare with; default `origin/$GITHUB_BASE_REF` when that is set, else `origin/main`, else `main`. */
  base?: string;
  /** The environment of the scratch database: lint against its catalog and rehearse the pending migrations there. Without it no database is opened. */
  env?: string;
  /** Who acts, for the rehearsals' log; default $FERRY_ACTOR or user@host. */
  actor?: string;
  /** How long to wait for the database's migration lock, like "30s"; default: the config's `lockWait`. */
  lockWait?: string;
  /** Where `GITHUB_BASE_REF` is read; default `process.env`. */
  processEnv?: NodeJS.ProcessEnv;
}

/** The migration folders with a file added, changed or deleted since `mergeBase`, or untracked; sorted. */
async function changedFolders(project: Project, mergeBase: string): Promise<string[]> {
  const dir = slashed(relative(project.root, project.migrationsDir)) || '.';
  const diff = await git(project.root, ['diff', '--name-only', '--relative', '-z', mergeBase, '--', dir]);
  const untracked = await git(project.root, ['ls-files', '--others', '--exclude-standard', '-z', '--', dir]);
  const ids = new Set<string>();
  for (const file of [...diff.split('\0'), ...untracked.split('\0')]) {
    if (file === '') continue;
    const inside = slashed(relative(project.migrationsDir, join(project.root, file)));
    const [folder, ...rest] = inside.split('/');
    if (folder === undefined || rest.length === 0 || folder === '..' || folder === ARCHIVE_DIR || folder.startsWith('.')) continue;
    if (isFolder(join(project.migrationsDir, folder))) ids.add(folder);
  }
  return [...ids].sort();
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** The manifest file of a migration folder (the folder itself when it has none). */
function manifestOf(dir: string): string {
  const name = MANIFEST_FILES.find((f) => isFile(join(dir, f)));
  return name ? join(dir, name) : dir;
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * A loader problem as a finding: problems start with the file they are about (`<file>: …` or
 * `<file>:<line>: …`); one that names no file is put on `fallback` (the manifest).
 */
function problemFinding(root: string, problem: string, fallback: string, migrationId: string | undefined): CheckFinding {
  const m = /^((?:[A-Za-z]:)?[^:\n]+?)(?::(\d+))?: ([\s\S]*)$/.exec(problem);
  const named = m && isAbsolute(m[1] as string) ? (m[1] as string) : undefined;
  return {
    ...(migrationId === undefined ? {} : { migrationId }),
    file: slashed(relative(root, named ?? fallback)) || '.',
    line: m?.[2] ? Number(m[2]) : 1,
    level: 'error',
    rule: 'manifest',
    message: named ? (m?.[3] as string) : problem,
    hint: 'fix the manifest and the files it names; `ferry new` writes a valid skeleton, `ferry schema` prints the manifest schema',
  };
}

/** Load every migration folder; each problem of each folder becomes a `manifest` finding instead of stopping the load. */
async function loadEveryMigration(project: Project): Promise<{ migrations: Migration[]; findings: CheckFinding[] }> {
  const { ids, problems } = migrationFolders(project.migrationsDir);
  const findings = problems.map((p) => problemFinding(project.root, p, project.migrationsDir, undefined));
  const migrations: Migration[] = [];
  const opts = projectLoadOptions(project);
  for (const id of ids) {
    const dir = join(project.migrationsDir, id);
    try {
      migrations.push(await loadMigration(dir, id, opts));
    } catch (err) {
      if (!isFerryError(err, 'E_MANIFEST')) throw err;
      const listed = (err.details as { problems?: string[] } | undefined)?.problems ?? [err.message];
      findings.push(...listed.map((p) => problemFinding(project.root, p, manifestOf(dir), id)));
    }
  }
  opts.cache?.prune();
  return { migrations, findings };
}

/** A lint finding that counts (errors and warnings, active or acknowledged) as a check finding. */
function lintFinding(root: string, m: Migration, f: Finding): CheckFinding[] {
  if (f.severity === 'info' || (f.status !== 'active' && f.status !== 'acknowledged')) return [];
  return [
    {
      migrationId: m.id,
      file: slashed(relative(root, f.file ?? manifestOf(m.dir))),
      line: f.line,
      level: f.severity,
      rule: f.rule,
      message: f.message,
      hint: f.fix,
      ...(f.status === 'acknowledged' ? { acknowledged: true } : {}),
    },
  ];
}

/** Whether `up` would run steps of `m` on the database that recorded `applied`. */
function isPending(m: Migration, applied: ReadonlySet<string>): boolean {
  return m.steps.some((s) => s.phase !== 'contract' && !applied.has(s.id));
}

/** Where a failed rehearsal stage points: the SQL file and line a step failure names, else that step's file, else the manifest. */
function rehearsalPlace(root: string, m: Migration, detail: string): { file: string; line: number } {
  const at = / of step [^/\s]+\/(\S+) failed(?: \(([^;)]+):(\d+)[;)])?/.exec(detail);
  if (at?.[2] && isAbsolute(at[2])) return { file: slashed(relative(root, at[2])), line: Number(at[3]) };
  const step = at ? m.steps.find((s) => s.id === at[1]) : undefined;
  const script = detail.startsWith('rollback') ? (step?.rollback ?? step?.forward) : step?.forward;
  return { file: slashed(relative(root, script?.file ?? step?.module ?? manifestOf(m.dir))), line: 1 };
}

/** What the check did on the scratch database. */
interface ScratchRun {
  rehearsals: CheckRehearsal[];
  findings: CheckFinding[];
  applied: string[];
  notRehearsed: { migrationId: string; reason: string }[];
}

/**
 * On the scratch database: apply the base branch's pending migrations (those before the first
 * changed one), lint the changed ones against the catalog that leaves, then rehearse each changed
 * one still pending, in order, applying it once its rehearsal passed so the next one rehearses on
 * top of it. A migration with error lint findings is not rehearsed (`up` refuses it), nor is any
 * after one that was not applied.
 */
async function onScratch(
  project: Project,
  db: Database,
  conn: Connection,
  all: Migration[],
  changed: ReadonlySet<string>,
  opts: { actor: string; lockWaitMs: number; manifestsValid: boolean },
): Promise<ScratchRun> {
  const run = {
    actor: opts.actor,
    lockTimeoutMs: durationMs(project.config.lockTimeout),
    lockRetries: project.config.lockRetries,
    lockWaitMs: opts.lockWaitMs,
    archived: archivedFolders(project.migrationsDir).archived.map((a) => a.id),
  };
  const apply = (m: Migration) => up(db, all, { ...run, requireApproval: conn.requireApproval, only: m.id });
  const pendingNow = async () => {
    const { applied } = await readState(db);
    return all.filter((m) => isPending(m, new Set((applied.get(m.id) ?? []).map((a) => a.stepId))));
  };
  const out: ScratchRun = { rehearsals: [], findings: [], applied: [], notRehearsed: [] };
  for (const m of opts.manifestsValid ? await pendingNow() : []) {
    if (changed.has(m.id)) break;
    await apply(m);
    out.applied.push(m.id);
  }
  const catalog = await readLintCatalog(db);
  const server = conn.driver === 'server' ? { url: conn.url, ...(conn.password === undefined ? {} : { password: conn.password }) } : undefined;
  const toCheck = all.filter((m) => changed.has(m.id));
  const pending = new Set((await pendingNow()).map((m) => m.id));
  // With a migration that does not load, applying the others could run them out of order.
  let blocked: string | undefined = opts.manifestsValid ? undefined : 'a migration does not load (see the manifest findings)';
  for (const m of toCheck) {
    const found = lintMigration(m, { catalog }).findings.flatMap((f) => lintFinding(project.root, m, f));
    out.findings.push(...found);
    if (!pending.has(m.id)) continue;
    if (blocked !== undefined) {
      out.notRehearsed.push({ migrationId: m.id, reason: blocked });
      continue;
    }
    if (failingFindings({ findings: found }).length > 0) {
      out.notRehearsed.push({ migrationId: m.id, reason: 'it has error lint findings not acknowledged, so `ferry up` refuses it' });
      blocked = `${m.id} before it was not applied (its error lint findings)`;
      continue;
    }
    const r = await rehearse(db, m, { ...run, migrations: all, ...(server ? { server } : {}) });
    out.rehearsals.push({ migrationId: m.id, ok: r.ok, summary: r.summary });
    for (const stage of r.stages.filter((s) => !s.ok)) {
      for (const detail of stage.detail.length ? stage.detail : [`stage "${stage.name}" failed`]) {
        out.findings.push({
          migrationId: m.id,
          ...rehearsalPlace(project.root, m, detail),
          level: 'error',
          rule: 'rehearsal',
          message: `rehearsal on the scratch database failed at "${stage.name}": ${detail}`,
          hint: `fix the SQL so up → verify → down → up holds on a copy; \`ferry rehearse ${m.id}\` repeats it`,
        });
      }
    }
    if (!r.ok) {
      blocked = `${m.id} before it was not applied (its rehearsal failed)`;
      continue;
    }
    await apply(m);
    out.applied.push(m.id);
  }
  return out;
}

/**
 * `ferry check`: what a pull request does to the migrations, before anything runs. Finds the
 * migrations new or changed since the branch left `base` (git, in the project root), loads every
 * migration (each problem a `manifest` finding), and lints the changed ones. With `env` (the CI
 * job's scratch database, which it changes) it first applies the base branch's pending migrations,
 * lints against the catalog that leaves, and rehearses each changed one still pending there.
 */
export async function prCheck(opts: PrCheckOptions): Promise<PrCheckReport> {
  const project = loadProject(opts.projectDir);
  const projectPath = await projectPathIn(project.root);
  const base = await resolveBase(project.root, opts.base, opts.processEnv ?? process.env);
  let mergeBase: string;
  try {
    mergeBase = (await git(project.root, ['merge-base', '--end-of-options', base, 'HEAD'])).trim();
  } catch (err) {
    throw new FerryError(
      'E_USAGE',
      `the branch and ${base} have no common commit here (${gitSaid(err) || 'git merge-base found none'})`,
      'fetch the whole history (actions/checkout with fetch-depth: 0, GIT_DEPTH: 0 on GitLab) or pass another --base <ref>',
    );
  }
  const changed = await changedFolders(project, mergeBase);
  const loaded = await loadEveryMigration(project);
  const changedSet = new Set(changed);
  const toCheck = loaded.migrations.filter((m) => changedSet.has(m.id));
  const findings = [...loaded.findings];
  let database: PrCheckReport['database'];
  let scratch: ScratchRun | undefined;
  if (opts.env === undefined) {
    for (const m of toCheck) findings.push(...lintMigration(m).findings.flatMap((f) => lintFinding(project.root, m, f)));
  } else {
    const conn = resolveConnection(project, opts.env);
    const lockWaitMs = durationMs(opts.lockWait ?? project.config.lockWait);
    const db = await openEnvironment(conn, { lockWaitMs, purpose: 'check' });
    try {
      database = { env: conn.env, target: db.target };
      scratch = await onScratch(project, db, conn, loaded.migrations, changedSet, {
        actor: opts.actor ?? currentActor(),
        lockWaitMs,
        manifestsValid: loaded.findings.length === 0,
      });
      findings.push(...scratch.findings);
    } finally {
      await db.close();
    }
  }
  const report: PrCheckReport = {
    base,
    mergeBase,
    projectPath,
    changed,
    ...(database ? { database } : {}),
    rehearsals: scratch?.rehearsals ?? [],
    notRehearsed: scratch?.notRehearsed ?? [],
    applied: scratch?.applied ?? [],
    findings,
    ok: true,
  };
  report.ok = failingFindings(report).length === 0;
  return report;
}

/** The refusal a failed check ends with, by what failed first: an invalid manifest (E_MANIFEST), a failed rehearsal (E_REHEARSE), error lint findings (E_LINT); undefined when the check passed. */
export function prCheckRefusal(report: PrCheckReport): FerryError | undefined {
  const failing = failingFindings(report);
  if (failing.length === 0) return undefined;
  const count = (rule: (r: string) => boolean) => failing.filter((f) => rule(f.rule)).length;
  const manifests = count((r) => r === 'manifest');
  if (manifests > 0)
    return new FerryError(
      'E_MANIFEST',
      `${manifests} manifest problem${manifests === 1 ? '' : 's'}: the migrations named above do not load`,
      'fix the manifest and the files named above',
    );
  const rehearsalsFailed = count((r) => r === 'rehearsal');
  if (rehearsalsFailed > 0)
    return new FerryError(
      'E_REHEARSE',
      `rehearsal failed for ${[...new Set(failing.filter((f) => f.rule === 'rehearsal').map((f) => f.migrationId))].join(', ')}`,
      'fix the SQL so up → verify → down → up holds on a copy; `ferry rehearse <id>` repeats one rehearsal',
    );
  return new FerryError(
    'E_LINT',
    `${failing.length} error-level lint finding${failing.length === 1 ? '' : 's'} not acknowledged: ${[...new Set(failing.map((f) => f.rule))].join(', ')}`,
    'fix the SQL as each finding suggests; or disable a rule for one statement with `-- ferry-lint-disable <rule> -- <reason>`, or acknowledge it in the manifest ("lint": { "acknowledge": ["step:rule"] })',
  );
}
