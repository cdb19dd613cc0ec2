import { statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { SqlSyntaxError, splitStatements } from '../db/sql-script.js';
import { entryExists, fileErrorReason, readFolder, readTextFile, UnreadableFile } from '../project/text-file.js';
import { MIGRATION_ID_RULE, migrationIdProblem } from './ids.js';
import type { SqlScript } from './loaded.js';
import type { ParseCache } from './parse-cache.js';

/** The manifest file names a migration folder may hold, in order of preference. */
export const MANIFEST_FILES = ['migration.json', 'migration.ts', 'migration.js'];

/** The folder under the migrations folder where cleanup archives finished migrations (`archive/YYYYMM/<id>`). */
export const ARCHIVE_DIR = 'archive';

/**
 * Whether something is at `dir/path`: a file, a folder, or a broken link (which the read then reports).
 * `names`, the folder's listing when the caller has it, answers for a plain file name without a system call.
 */
export function migrationFileExists(dir: string, path: string, names?: ReadonlySet<string>): boolean {
  if (names && basename(path) === path && path !== '.' && path !== '..') return names.has(path);
  return entryExists(join(dir, path));
}

/**
 * Read a file of a migration as UTF-8; when it cannot be read (permissions, a
 * folder, a broken link, bytes that are not UTF-8) its path and the reason go
 * to `problems` and the result is undefined.
 */
export function readMigrationFile(file: string, problems: string[]): string | undefined {
  try {
    return readTextFile(file);
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    problems.push(err.message);
    return undefined;
  }
}

/** Read a migration's manifest (JSON, or a TypeScript / JavaScript module); problems are collected, not thrown. */
export async function readManifest(
  dir: string,
  problems: string[],
): Promise<{ raw: unknown; file: string; text: string; names: ReadonlySet<string> } | undefined> {
  let names: ReadonlySet<string>;
  try {
    names = new Set(readFolder(dir));
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    problems.push(err.message);
    return undefined;
  }
  const name = MANIFEST_FILES.find((f) => names.has(f));
  if (!name) {
    problems.push(`${dir}: no manifest (expected one of ${MANIFEST_FILES.join(', ')})`);
    return undefined;
  }
  const file = join(dir, name);
  const text = readMigrationFile(file, problems);
  if (text === undefined) return undefined;
  if (name.endsWith('.json')) {
    try {
      return { raw: JSON.parse(text), file, text, names };
    } catch (err) {
      problems.push(`${file}: not valid JSON: ${(err as Error).message}`);
      return undefined;
    }
  }
  try {
    // jiti loads only for a TypeScript or JavaScript manifest: most projects never need it.
    const { createJiti } = await import('jiti');
    const mod = (await createJiti(import.meta.url, { moduleCache: false }).import(file)) as { default?: unknown };
    return { raw: mod.default ?? mod, file, text, names };
  } catch (err) {
    problems.push(`${file}: cannot be loaded: ${(err as Error).message}`);
    return undefined;
  }
}

/** Read and parse one SQL file of a step (`where` names the manifest field, e.g. `steps.0.forward`). */
export function readScript(dir: string, path: string, problems: string[], where: string, cache?: ParseCache): SqlScript | undefined {
  const file = join(dir, path);
  const text = readMigrationFile(file, problems);
  if (text === undefined) return undefined;
  try {
    const statements = cache ? cache.statementsOf(text) : splitStatements(text);
    if (statements.length === 0) problems.push(`${file}: ${where}: contains no SQL statement`);
    return { file, text, statements };
  } catch (err) {
    if (err instanceof SqlSyntaxError) problems.push(`${file}:${err.line}: ${where}: ${err.message}`);
    else throw err;
    return undefined;
  }
}

/** The folders in `dir`; plain files (README.md …) are not migrations, but an entry that cannot be looked at (a broken link …) is a problem. */
function folderEntries(dir: string, problems: string[], skip: (name: string) => boolean): string[] {
  let names: string[];
  try {
    names = readFolder(dir);
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    problems.push(err.message);
    return [];
  }
  const out: string[] = [];
  for (const name of names.sort()) {
    if (name.startsWith('.') || skip(name)) continue;
    const path = join(dir, name);
    try {
      if (statSync(path).isDirectory()) out.push(name);
    } catch (err) {
      problems.push(`${path}: ${fileErrorReason(path, err)}`);
    }
  }
  return out;
}

/**
 * The migration folders of a project, sorted by id (archived ones are not
 * among them), and the problems of the folder: one that cannot be listed, a
 * broken link, a folder name that breaks the id rules (see ids.ts).
 */
export function migrationFolders(migrationsDir: string): { ids: string[]; problems: string[] } {
  const problems: string[] = [];
  if (!entryExists(migrationsDir)) return { ids: [], problems };
  const ids: string[] = [];
  for (const name of folderEntries(migrationsDir, problems, (n) => n === ARCHIVE_DIR)) {
    const problem = migrationIdProblem(name);
    if (problem) problems.push(`${join(migrationsDir, name)}: ${problem}; ${MIGRATION_ID_RULE}`);
    else ids.push(name);
  }
  return { ids, problems };
}

/** Archived migration folders (`archive/YYYYMM/<id>`), sorted by id, and the problems met listing them. */
export function archivedFolders(migrationsDir: string): { archived: { id: string; dir: string }[]; problems: string[] } {
  const root = join(migrationsDir, ARCHIVE_DIR);
  const problems: string[] = [];
  if (!entryExists(root)) return { archived: [], problems };
  const archived: { id: string; dir: string }[] = [];
  for (const month of folderEntries(root, problems, (n) => !/^\d{6}$/.test(n))) {
    for (const id of folderEntries(join(root, month), problems, () => false)) {
      const problem = migrationIdProblem(id);
      if (problem) problems.push(`${join(root, month, id)}: ${problem}; ${MIGRATION_ID_RULE}`);
      else archived.push({ id, dir: join(root, month, id) });
    }
  }
  archived.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { archived, problems };
}
