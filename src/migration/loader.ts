import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { createJiti } from 'jiti';
import { checkExpression } from '../backfill/plan.js';
import type { BackfillStepSpec } from '../backfill/spec.js';
import { FerryError } from '../errors.js';
import { formatIssues } from '../project/config.js';
import { manifestCheckProblems } from '../verify/declared.js';
import { checksumOf } from './checksum.js';
import { type Manifest, type ManifestStep, manifestSchema } from './manifest.js';
import { compileOperationSteps } from './op-steps.js';
import { parserReady, SqlSyntaxError, type Statement, splitStatements } from './sql-script.js';

/** The SQL of one direction of a step, with its file and its statements. */
export interface SqlScript {
  file: string;
  text: string;
  statements: Statement[];
}

/** One step of a loaded migration: everything needed to run, undo and check it. */
export interface Step {
  id: string;
  /** 0-based order in the migration. */
  index: number;
  kind: 'sql' | 'ts' | 'backfill';
  description?: string;
  transaction: boolean;
  irreversible: boolean;
  forward?: SqlScript;
  rollback?: SqlScript;
  verify?: SqlScript;
  cleanup?: SqlScript;
  /** For `ts` steps and backfill transforms: absolute path of the module. */
  module?: string;
  /** For `backfill` steps: what to fill and how. */
  backfill?: BackfillStepSpec;
  /** sha256 of what `forward` applies; an applied step whose checksum changes is drift. */
  checksum: string;
  /** `contract` for steps that remove the old shape: `up` leaves them to `ferry contract`, after verification. */
  phase?: 'contract';
  /**
   * For steps compiled from an operation (`kind: "op"` in the manifest): which one, the lint rules its SQL handles
   * safely, the manifest step it comes from and that step's spec as compiled (columns named as stored).
   */
  operation?: { op: string; part: string; handles: string[]; step?: string; spec?: unknown };
}

/** A migration folder, loaded and validated. */
export interface Migration {
  /** The folder name, e.g. `20261127093000_split_full_name`. */
  id: string;
  dir: string;
  manifest: Manifest;
  steps: Step[];
  /** sha256 over the manifest and every file of every step. */
  checksum: string;
}

const MANIFEST_FILES = ['migration.json', 'migration.ts', 'migration.js'];

async function readManifest(dir: string, problems: string[]): Promise<{ raw: unknown; file: string; text: string } | undefined> {
  const name = MANIFEST_FILES.find((f) => existsSync(join(dir, f)));
  if (!name) {
    problems.push(`${dir}: no manifest (expected one of ${MANIFEST_FILES.join(', ')})`);
    return undefined;
  }
  const file = join(dir, name);
  const text = readFileSync(file, 'utf8');
  if (name.endsWith('.json')) {
    try {
      return { raw: JSON.parse(text), file, text };
    } catch (err) {
      problems.push(`${file}: not valid JSON: ${(err as Error).message}`);
      return undefined;
    }
  }
  try {
    const mod = (await createJiti(import.meta.url, { moduleCache: false }).import(file)) as { default?: unknown };
    return { raw: mod.default ?? mod, file, text };
  } catch (err) {
    problems.push(`${file}: cannot be loaded: ${(err as Error).message}`);
    return undefined;
  }
}

function readScript(dir: string, path: string, problems: string[], where: string): SqlScript | undefined {
  const file = join(dir, path);
  const text = readFileSync(file, 'utf8');
  try {
    const statements = splitStatements(text);
    if (statements.length === 0) problems.push(`${file}: ${where}: contains no SQL statement`);
    return { file, text, statements };
  } catch (err) {
    if (err instanceof SqlSyntaxError) problems.push(`${file}:${err.line}: ${where}: ${err.message}`);
    else throw err;
    return undefined;
  }
}

function loadStep(dir: string, mfile: string, s: Exclude<ManifestStep, { kind: 'op' }>, index: number, problems: string[]): Step | undefined {
  const where = (field: string) => `steps.${index}.${field}`;
  const base = { id: s.id, index, kind: s.kind, transaction: s.transaction, irreversible: s.irreversible };
  const step: Step = s.description ? { ...base, description: s.description, checksum: '' } : { ...base, checksum: '' };
  if (s.kind === 'sql' && s.phase === 'contract') step.phase = 'contract';
  if (s.kind === 'backfill') {
    if (s.module !== undefined) {
      const file = join(dir, s.module);
      if (!existsSync(file)) {
        problems.push(`${mfile}: ${where('module')}: file ${s.module} does not exist`);
        return undefined;
      }
      step.module = file;
    }
    step.backfill = s;
    step.checksum = checksumOf('backfill', JSON.stringify(s), step.module ? readFileSync(step.module, 'utf8') : '');
    return step;
  }
  if (s.kind === 'ts') {
    const file = join(dir, s.module);
    if (!existsSync(file)) {
      problems.push(`${mfile}: ${where('module')}: file ${s.module} does not exist`);
      return undefined;
    }
    step.module = file;
    step.checksum = checksumOf('ts', String(s.transaction), readFileSync(file, 'utf8'));
    return step;
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
    if (!existsSync(join(dir, path))) {
      if (required[dirn]) {
        const fix = dirn === 'rollback' ? ' (or mark the step "irreversible": true)' : '';
        problems.push(`${mfile}: ${where(dirn)}: file ${path} does not exist${fix}`);
        ok = false;
      }
      continue;
    }
    const script = readScript(dir, path, problems, where(dirn));
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
  step.checksum = checksumOf('sql', String(s.transaction), step.forward.text);
  return step;
}

/**
 * The migration's steps in the order they run: written steps and the steps
 * compiled from operations, then every contract-phase step (which `up` leaves
 * to `ferry contract`), numbered in that order.
 */
function orderedSteps(dir: string, mfile: string, manifest: Manifest, problems: string[]): Step[] {
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
    const step = loadStep(dir, mfile, s, i, problems);
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
export async function loadMigration(dir: string, id: string): Promise<Migration> {
  await parserReady();
  const problems: string[] = [];
  const m = await readManifest(dir, problems);
  if (m) {
    const parsed = manifestSchema.safeParse(m.raw);
    if (!parsed.success) problems.push(...formatIssues(m.file, parsed.error.issues));
    else {
      const loaded = orderedSteps(dir, m.file, parsed.data, problems);
      problems.push(...manifestCheckProblems(m.file, dir, parsed.data));
      for (const step of loaded) if (step.backfill) problems.push(...(await backfillExpressionProblems(id, step, m.file)));
      if (problems.length === 0) {
        const files = loaded.flatMap((s) => [s.checksum, s.rollback?.text ?? '', s.verify?.text ?? '', s.cleanup?.text ?? '']);
        return { id, dir, manifest: parsed.data, steps: loaded, checksum: checksumOf(m.text, ...files) };
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

/** The folder under the migrations folder where cleanup archives finished migrations (`archive/YYYYMM/<id>`). */
export const ARCHIVE_DIR = 'archive';

/** The migration folders of a project, sorted by id (their names sort in creation order); archived ones are not among them. */
export function listMigrationIds(migrationsDir: string): string[] {
  if (!existsSync(migrationsDir)) return [];
  return readdirSync(migrationsDir)
    .filter((n) => !n.startsWith('.') && n !== ARCHIVE_DIR && statSync(join(migrationsDir, n)).isDirectory())
    .sort();
}

/** Archived migration folders (`archive/YYYYMM/<id>`), sorted by id. */
export function listArchived(migrationsDir: string): { id: string; dir: string }[] {
  const root = join(migrationsDir, ARCHIVE_DIR);
  if (!existsSync(root)) return [];
  const out: { id: string; dir: string }[] = [];
  for (const month of readdirSync(root).filter((n) => /^\d{6}$/.test(n) && statSync(join(root, n)).isDirectory())) {
    for (const id of readdirSync(join(root, month)).filter((n) => !n.startsWith('.') && statSync(join(root, month, n)).isDirectory())) {
      out.push({ id, dir: join(root, month, id) });
    }
  }
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Load an archived migration by id (or its name without the timestamp); undefined when none is archived under it. */
export async function loadArchived(migrationsDir: string, id: string): Promise<Migration | undefined> {
  const all = listArchived(migrationsDir);
  const hit =
    all.find((a) => a.id === id) ??
    (all.filter((a) => a.id.replace(/^\d+_/, '') === id).length === 1 ? all.find((a) => a.id.replace(/^\d+_/, '') === id) : undefined);
  return hit ? loadMigration(hit.dir, hit.id) : undefined;
}

/** Load every migration of a project; problems in all of them are reported together. */
export async function loadAll(migrationsDir: string): Promise<Migration[]> {
  const out: Migration[] = [];
  const problems: string[] = [];
  for (const id of listMigrationIds(migrationsDir)) {
    try {
      out.push(await loadMigration(join(migrationsDir, id), id));
    } catch (err) {
      if (err instanceof FerryError && err.code === 'E_MANIFEST') problems.push(...((err.details as { problems: string[] }).problems ?? []));
      else throw err;
    }
  }
  if (problems.length) {
    throw new FerryError('E_MANIFEST', `invalid migrations (${problems.length} problems):\n  ${problems.join('\n  ')}`, 'fix the files named above', {
      problems,
    });
  }
  return out;
}

/** Print-friendly path of a file relative to the project. */
export function shortPath(root: string, file: string): string {
  return relative(root, file) || file;
}
