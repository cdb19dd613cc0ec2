/*
 * The ferry migration folder written for one imported migration: its id, its
 * manifest and its SQL files. Pure: the workflow (src/workflow/import.ts)
 * decides what is written where.
 */

import { relative, sep } from 'node:path';
import { type Statement, splitStatements } from '../db/sql-script.js';
import { MIGRATION_NAME_MAX_BYTES, MIGRATION_PREFIX_MAX_DIGITS } from '../migration/ids.js';
import type { ManifestInput } from '../migration/manifest.js';
import { type CodeTool, codeStepModule, opaqueStepModule } from './runtime/step-module.js';
import type { CodeMigration, ForeignMigration, ImportTool } from './types.js';
import { verifySqlFor } from './verify-sql.js';

/** Fewest digits of an imported id's prefix. */
const MIN_PREFIX_DIGITS = 4;

/**
 * The ordering prefix of each migration: the tool's own version zero-padded
 * when every version is a number that fits and they rise in the tool's order,
 * else an ordinal (0001, 0002 …); either way the ids sort as the tool applies them.
 */
function prefixes(migrations: ForeignMigration[]): string[] {
  const numeric = migrations.every((m) => new RegExp(`^\\d{1,${MIGRATION_PREFIX_MAX_DIGITS}}$`).test(m.version));
  if (numeric) {
    const width = Math.max(MIN_PREFIX_DIGITS, ...migrations.map((m) => m.version.length));
    const padded = migrations.map((m) => m.version.padStart(width, '0'));
    if (padded.every((p, i) => i === 0 || (padded[i - 1] as string) < p)) return padded;
  }
  const width = Math.max(MIN_PREFIX_DIGITS, String(migrations.length).length);
  return migrations.map((_, i) => String(i + 1).padStart(width, '0'));
}

/** A migration name ferry accepts, from the tool's name for humans. */
function nameOf(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/g, '_')
    .replace(/^[_-]+|[_-]+$/g, '');
  return cleaned.slice(0, MIGRATION_NAME_MAX_BYTES).replace(/[_-]+$/, '') || 'migration';
}

/**
 * One ferry migration id per migration, in the same order, sorting in that
 * order: `<version or ordinal>_<name>`, names made unique with `_2`, `_3` ….
 */
export function importedIds(migrations: ForeignMigration[]): string[] {
  const taken = new Set<string>();
  const nextSuffix = new Map<string, number>();
  const prefix = prefixes(migrations);
  return migrations.map((m, i) => {
    const base = nameOf(m.name);
    let name = base;
    let n = nextSuffix.get(base) ?? 2;
    for (; taken.has(name); n++) {
      const suffix = `_${n}`;
      name = `${base.slice(0, MIGRATION_NAME_MAX_BYTES - suffix.length)}${suffix}`;
    }
    nextSuffix.set(base, n);
    taken.add(name);
    return `${prefix[i]}_${name}`;
  });
}

/** Whether a forward script drops anything: a table, index, column, constraint …. */
function drops(statements: Statement[]): boolean {
  return statements.some((s) => {
    if (s.node === 'DropStmt') return true;
    if (s.node !== 'AlterTableStmt') return false;
    const cmds = (s.tree.AlterTableStmt as { cmds?: { AlterTableCmd?: { subtype?: string } }[] } | undefined)?.cmds ?? [];
    return cmds.some((c) => c.AlterTableCmd?.subtype === 'AT_DropColumn' || c.AlterTableCmd?.subtype === 'AT_DropConstraint');
  });
}

/** The statements of the tool's down SQL: undefined when it cannot be parsed (the loader then names the file and line). */
function downStatements(down: string): Statement[] | undefined {
  if (down.trim() === '') return [];
  try {
    return splitStatements(down);
  } catch {
    return undefined;
  }
}

/** A script ferry loads (a step's file needs one statement) that does nothing, saying why. */
const noop = (why: string) => `-- ${why}\nSELECT 1;\n`;

const asScript = (sql: string) => (sql.endsWith('\n') ? sql : `${sql}\n`);

type StepInput = ManifestInput['steps'][number];

/** What one step of the folder holds. */
interface StepFiles {
  id: string;
  transaction: boolean;
  up: string;
  down?: string;
  verify?: string;
}

/**
 * A migration the tool runs outside a transaction, one step per statement:
 * ferry runs such a step as exactly one statement. `down` runs the steps in
 * reverse, so the tool's down statements go to the last steps' rollbacks in
 * reverse order and run in the tool's order; the earlier steps' rollbacks
 * say where they are undone.
 */
function splitSteps(tool: ImportTool, forward: Statement[], down: string | undefined, verify: string): StepFiles[] {
  const downs: string[] | undefined = down === undefined ? undefined : (downStatements(down)?.map((s) => `${s.text};\n`) ?? [asScript(down)]);
  const count = Math.max(forward.length, downs?.length ?? 0, 1);
  const id = (k: number) => (count === 1 ? 'change' : `change-${k}`);
  const steps: StepFiles[] = [];
  for (let k = 1; k <= count; k++) {
    const f = forward[k - 1];
    const step: StepFiles = {
      id: id(k),
      transaction: false,
      up: f
        ? `${f.text};\n`
        : noop(
            downs?.[count - k] === undefined
              ? `${tool}'s migration holds no statement; a ferry step needs one`
              : `no forward statement: this step holds statement ${count + 1 - k} of ${tool}'s down script`,
          ),
    };
    if (downs) {
      const d = downs[count - k];
      const first = count - downs.length + 1;
      const by = first === count ? `${id(count)}.down.sql` : `${id(first)}.down.sql … ${id(count)}.down.sql`;
      step.down = d ?? noop(`undone by ${by} (${tool} rolls this migration back as one script)`);
    }
    steps.push(step);
  }
  const last = steps.at(-1) as StepFiles;
  if (verify !== '') last.verify = verify;
  return steps;
}

/** The title for humans: the tool's name with `_` and `-` as spaces. */
function titleOf(m: ForeignMigration): string {
  return m.name.replace(/[_-]+/g, ' ').trim() || `migration ${m.version}`;
}

/** The step module of a code migration's folder. */
const CODE_STEP_MODULE = 'change.mjs';

/**
 * The folder of a code migration (node-pg-migrate, Knex): one `kind: "ts"`
 * step whose module runs the original's up and down on the step's
 * transaction, or, when ferry cannot load the original, an opaque step that
 * says why and is irreversible. `folder` is where the migration is written.
 */
function codeFolder(tool: ImportTool, m: ForeignMigration, code: CodeMigration, folder: string): Record<string, string> {
  const file = m.files[0] as string;
  const importPath = relative(folder, code.module).split(sep).join('/');
  const module = code.opaque
    ? opaqueStepModule(tool as CodeTool, file, code.opaque)
    : codeStepModule(tool as CodeTool, importPath.startsWith('.') ? importPath : `./${importPath}`, file);
  const manifest: ManifestInput & { $schema: string } = {
    $schema: '../migration.schema.json',
    title: titleOf(m),
    summary: `Imported from ${tool} (${file}), version ${m.version}${code.opaque ? `; opaque: ferry cannot run it (${code.opaque})` : ''}.`,
    type: 'schema-additive',
    strategy: 'big-bang',
    steps: [
      {
        id: 'change',
        kind: 'ts',
        module: CODE_STEP_MODULE,
        ...(m.transaction ? {} : { transaction: false }),
        ...(code.opaque || !code.reversible ? { irreversible: true } : {}),
      },
    ],
  };
  return { 'migration.json': `${JSON.stringify(manifest, null, 2)}\n`, [CODE_STEP_MODULE]: module };
}

/**
 * The files of the ferry migration folder for one imported migration, by name:
 * `migration.json` and each step's `.up.sql`, `.down.sql` (none when the tool
 * has no rollback: the step is irreversible) and `.verify.sql` (derived from
 * the forward script). `statements` is `m.up` as {@link splitStatements} cut it.
 * A code migration is one TypeScript step instead (see `codeFolder`), its
 * module imported from `folder`, the absolute path the folder is written to.
 */
export function importedFolder(tool: ImportTool, m: ForeignMigration, statements: Statement[], folder = ''): Record<string, string> {
  if (m.code) return codeFolder(tool, m, m.code, folder);
  const verify = verifySqlFor(statements);
  // A rollback without a statement (dbmate's empty down block) undoes nothing: the migration is irreversible.
  const down = m.down !== undefined && (downStatements(m.down)?.length ?? 1) > 0 ? m.down : undefined;
  const up = statements.length === 0 ? `${asScript(m.up)}${noop(`${tool}'s migration holds no statement; a ferry step needs one`)}` : m.up;
  const steps: StepFiles[] = m.transaction
    ? [{ id: 'change', transaction: true, up, ...(down === undefined ? {} : { down }), ...(verify === '' ? {} : { verify }) }]
    : splitSteps(tool, statements, down, verify);
  const manifest: ManifestInput & { $schema: string } = {
    $schema: '../migration.schema.json',
    title: titleOf(m),
    summary: `Imported from ${tool} (${m.files.join(', ')}), version ${m.version}.`,
    type: drops(statements) ? 'schema-destructive' : 'schema-additive',
    strategy: 'big-bang',
    steps: steps.map(
      (s): StepInput => ({
        id: s.id,
        ...(s.transaction ? {} : { transaction: false }),
        ...(s.down === undefined ? { irreversible: true } : {}),
      }),
    ),
  };
  const files: Record<string, string> = { 'migration.json': `${JSON.stringify(manifest, null, 2)}\n` };
  for (const s of steps) {
    files[`${s.id}.up.sql`] = s.up;
    if (s.down !== undefined) files[`${s.id}.down.sql`] = s.down;
    if (s.verify !== undefined) files[`${s.id}.verify.sql`] = s.verify;
  }
  return files;
}
