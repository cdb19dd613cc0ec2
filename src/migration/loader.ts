import { join, relative } from 'node:path';
import { checkExpression } from '../backfill/plan.js';
import { type BackfillStepSpec, unpacedBackfillSpec } from '../backfill/spec.js';
import { parserReady } from '../db/sql-script.js';
import { FerryError } from '../errors.js';
import { formatIssues } from '../project/config.js';
import { manifestCheckProblems } from '../verify/declared.js';
import { checksumOf } from './checksum.js';
import { manifestDefinition, migrationChecksum, NOT_DEFINED_YET, stepDefinition } from './definition.js';
import { ARCHIVE_DIR, archivedFolders, migrationFileExists, migrationFolders, readManifest, readMigrationFile, readScript } from './files.js';
import type { Migration, Step } from './loaded.js';
import { type Manifest, type ManifestStep, manifestSchema } from './manifest.js';
import { compileOperationSteps } from './op-compile.js';
import type { ParseCache } from './parse-cache.js';

export type { Migration, SqlScript, Step } from './loaded.js';

/** How migrations are loaded. */
export interface LoadOptions {
  /** Parsed SQL kept by content (the CLI uses the project's `.ferry/cache`); without it every script is parsed. */
  cache?: ParseCache;
  /**
   * The environment names of the project's ferry.config.json: every `env` a declared check names must be one of them
   * (the CLI passes its loaded config's). Without it those names are not checked when the migration is loaded.
   */
  environments?: readonly string[];
}

/** A migration folder while it is read: its path and listing, and its manifest's file and contents as written. */
interface Folder {
  dir: string;
  names: ReadonlySet<string>;
  /** The manifest's path. */
  file: string;
  /** The manifest as written, before defaults. */
  raw: unknown;
}

/** Whether the author wrote `field` in the manifest's `index`th step (rather than a default filling it in). */
function written(folder: Folder, index: number, field: string): boolean {
  const steps = (folder.raw as { steps?: unknown } | null)?.steps;
  const step = Array.isArray(steps) ? (steps[index] as unknown) : undefined;
  return typeof step === 'object' && step !== null && field in step;
}

function loadStep(folder: Folder, s: Exclude<ManifestStep, { kind: 'op' }>, index: number, problems: string[], opts: LoadOptions): Step | undefined {
  const { dir, names, file: mfile } = folder;
  const where = (field: string) => `steps.${index}.${field}`;
  const base = { id: s.id, index, kind: s.kind, transaction: s.transaction, irreversible: s.irreversible, checksum: '', definition: NOT_DEFINED_YET };
  const step: Step = s.description ? { ...base, description: s.description } : base;
  if (s.kind === 'sql' && s.phase === 'contract') step.phase = 'contract';
  if (s.kind === 'backfill') {
    let source = '';
    if (s.module !== undefined) {
      const file = join(dir, s.module);
      if (!migrationFileExists(dir, s.module, names)) {
        problems.push(`${mfile}: ${where('module')}: file ${s.module} does not exist`);
        return undefined;
      }
      const text = readMigrationFile(file, problems);
      if (text === undefined) return undefined;
      step.module = file;
      source = text;
    }
    step.backfill = s;
    finished(step, checksumOf('backfill', JSON.stringify(s), source), source);
    // Recorded by a ferry before pacing (no `impact`, another default sleepRatio), the same step is unedited.
    const earlier = unpacedBackfillSpec(s, written(folder, index, 'sleepRatio'));
    const definition = stepDefinition({ ...step, backfill: earlier, moduleSource: source });
    step.previous = [{ checksum: checksumOf('backfill', JSON.stringify(earlier), source), definition }];
    return step;
  }
  if (s.kind === 'ts') {
    const file = join(dir, s.module);
    if (!migrationFileExists(dir, s.module, names)) {
      problems.push(`${mfile}: ${where('module')}: file ${s.module} does not exist`);
      return undefined;
    }
    const source = readMigrationFile(file, problems);
    if (source === undefined) return undefined;
    step.module = file;
    return finished(step, checksumOf('ts', String(s.transaction), source), source);
  }
  const files = {
    forward: s.forward ?? `${s.id}.up.sql`,
    rollback: s.rollback ?? `${s.id}.down.sql`,
    verify: s.verify ?? `${s.id}.verify.sql`,
    cleanup: s.cleanup ?? `${s.id}.cleanup.sql`,
  };
  const required = { forward: true, rollback: !s.irreversible, verify: s.verify !== undefined, cleanup: s.cleanup !== undefined };
  let ok = true;
  for (const dirn of ['forward', 'rollback', 'verify', 'cleanup'] as const) {
    const path = files[dirn];
    if (!migrationFileExists(dir, path, names)) {
      if (required[dirn]) {
        const fix = dirn === 'rollback' ? ' (or mark the step "irreversible": true)' : '';
        problems.push(`${mfile}: ${where(dirn)}: file ${path} does not exist${fix}`);
        ok = false;
      }
      continue;
    }
    const script = readScript(dir, path, problems, where(dirn), opts.cache);
    if (script) step[dirn] = script;
    else ok = false;
  }
  if (!ok || !step.forward) return undefined;
  if (!s.transaction) {
    for (const script of [step.forward, step.rollback]) {
      if (script && script.statements.length > 1) {
        problems.push(
          `${script.file}: ${where('transaction')}: a step that runs outside a transaction must hold exactly one statement (found ${script.statements.length}), so a crash can never leave it half done; split it into several steps`,
        );
        ok = false;
      }
    }
    if (!ok) return undefined;
  }
  return finished(step, checksumOf('sql', String(s.transaction), step.forward.text));
}

/** A step once all of it is read: its forward checksum and its definition (`source`: the module it runs, if any). */
function finished(step: Step, checksum: string, source?: string): Step {
  step.checksum = checksum;
  step.definition = stepDefinition(source === undefined ? step : { ...step, moduleSource: source });
  return step;
}

/**
 * The migration's steps in the order they run: written steps and the steps
 * compiled from operations, then every contract-phase step (which `up` leaves
 * to `ferry contract`), numbered in that order.
 */
function orderedSteps(folder: Folder, manifest: Manifest, problems: string[], opts: LoadOptions): Step[] {
  const mfile = folder.file;
  const expand: Step[] = [];
  const contract: Step[] = [];
  const ops = manifest.steps.flatMap((step, index) => (step.kind === 'op' ? [{ step, index }] : []));
  const compiled = compileOperationSteps(ops, mfile, problems);
  manifest.steps.forEach((s, i) => {
    if (s.kind === 'op') {
      const c = compiled.get(i) ?? { expand: [], contract: [] };
      expand.push(...c.expand);
      contract.push(...c.contract);
      if (manifest.pointOfNoReturn === s.id) {
        const parts = [...c.expand, ...c.contract].map((x) => x.id).join(', ');
        problems.push(`${mfile}: pointOfNoReturn: "${s.id}" is an operation; name one of its steps (${parts})`);
      }
      return;
    }
    const step = loadStep(folder, s, i, problems, opts);
    if (step) (step.phase === 'contract' ? contract : expand).push(step);
  });
  const steps = [...expand, ...contract];
  steps.forEach((s, i) => {
    s.index = i;
  });
  return steps;
}

/** Each SQL expression of a backfill step must parse as exactly one expression (no second statement smuggled in). */
async function backfillExpressionProblems(migrationId: string, step: Step, file: string): Promise<string[]> {
  const spec = step.backfill as BackfillStepSpec;
  const target = { migrationId, stepId: step.id, spec };
  const exprs: [string, string][] = [
    ...Object.entries(spec.set ?? {}).map(([c, e]): [string, string] => [`set.${c}`, e]),
    ...Object.entries(spec.rollback ?? {}).map(([c, e]): [string, string] => [`rollback.${c}`, e]),
    ['where', spec.where],
  ];
  const problems: string[] = [];
  for (const [what, sql] of exprs) {
    try {
      await checkExpression(target, what, sql);
    } catch (err) {
      if (!(err instanceof FerryError)) throw err;
      problems.push(`${file}: steps.${step.index}.${what}: ${err.message}`);
    }
  }
  return problems;
}

/** Load and validate one migration folder; every problem is reported in one E_MANIFEST error. */
export async function loadMigration(dir: string, id: string, opts: LoadOptions = {}): Promise<Migration> {
  await parserReady();
  const problems: string[] = [];
  const m = await readManifest(dir, problems);
  if (m) {
    const parsed = manifestSchema.safeParse(m.raw);
    if (!parsed.success) problems.push(...formatIssues(m.file, parsed.error.issues));
    else {
      const loaded = orderedSteps({ dir, names: m.names, file: m.file, raw: m.raw }, parsed.data, problems, opts);
      problems.push(...manifestCheckProblems(m.file, parsed.data, opts.environments));
      for (const step of loaded) if (step.backfill) problems.push(...(await backfillExpressionProblems(id, step, m.file)));
      if (problems.length === 0) {
        const definition = manifestDefinition(m.raw);
        const checksum = migrationChecksum(definition, parsed.data.pointOfNoReturn, loaded);
        return { id, dir, manifest: parsed.data, steps: loaded, definition, checksum, ...(opts.cache ? { cacheDir: opts.cache.dir } : {}) };
      }
    }
  }
  throw new FerryError(
    'E_MANIFEST',
    `migration ${id} is invalid (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
    'fix the manifest and files named above; `ferry new` writes a valid skeleton',
    { problems },
  );
}

export { ARCHIVE_DIR };

/** The valid migration folders of a project, sorted by id (their names sort in creation order); archived ones are not among them. */
export function listMigrationIds(migrationsDir: string): string[] {
  return migrationFolders(migrationsDir).ids;
}

/** Archived migration folders (`archive/YYYYMM/<id>`), sorted by id; a listing problem is E_MANIFEST. */
export function listArchived(migrationsDir: string): { id: string; dir: string }[] {
  const { archived, problems } = archivedFolders(migrationsDir);
  if (problems.length) throw invalidMigrations(problems);
  return archived;
}

/** Load an archived migration by id (or its name without the timestamp); undefined when none is archived under it. */
export async function loadArchived(migrationsDir: string, id: string, opts: LoadOptions = {}): Promise<Migration | undefined> {
  const all = listArchived(migrationsDir);
  const hit =
    all.find((a) => a.id === id) ??
    (all.filter((a) => a.id.replace(/^\d+_/, '') === id).length === 1 ? all.find((a) => a.id.replace(/^\d+_/, '') === id) : undefined);
  return hit ? loadMigration(hit.dir, hit.id, opts) : undefined;
}

/**
 * Load every migration of a project; problems in all of them are reported
 * together. With a cache, entries of scripts no longer in the tree are removed
 * once every migration has been read.
 */
export async function loadAll(migrationsDir: string, opts: LoadOptions = {}): Promise<Migration[]> {
  const out: Migration[] = [];
  const { ids, problems } = migrationFolders(migrationsDir);
  for (const id of ids) {
    try {
      out.push(await loadMigration(join(migrationsDir, id), id, opts));
    } catch (err) {
      if (err instanceof FerryError && err.code === 'E_MANIFEST') problems.push(...((err.details as { problems: string[] }).problems ?? []));
      else throw err;
    }
  }
  opts.cache?.prune();
  if (problems.length) throw invalidMigrations(problems);
  return out;
}

function invalidMigrations(problems: string[]): FerryError {
  return new FerryError('E_MANIFEST', `invalid migrations (${problems.length} problems):\n  ${problems.join('\n  ')}`, 'fix the files named above', {
    problems,
  });
}

/** Print-friendly path of a file relative to the project. */
export function shortPath(root: string, file: string): string {
  return relative(root, file) || file;
}
