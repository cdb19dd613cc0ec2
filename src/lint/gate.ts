import { basename } from 'node:path';
import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { type LintCatalog, readLintCatalog } from './catalog.js';
import { lintMigration, refusedFindings } from './index.js';
import type { Finding } from './types.js';

/** Where a finding is, short enough for one line: `<migration>/<file>:<line>`. */
export function findingPlace(f: Finding): string {
  const file = f.file ? basename(f.file) : '(sql)';
  return `${f.migrationId ? `${f.migrationId}/` : ''}${file}:${f.line}`;
}

/**
 * The refusal `ferry up` raises before anything runs: the error-level findings
 * in the pending steps of `work` that are neither disabled nor acknowledged,
 * judged against the target's `catalog` when given. Undefined when there are none.
 */
export function lintRefusal(work: { migration: Migration; pending: Step[] }[], catalog?: LintCatalog): FerryError | undefined {
  const refused: Finding[] = [];
  for (const { migration, pending } of work) {
    if (pending.length === 0) continue;
    const ids = new Set(pending.map((s) => s.id));
    refused.push(
      ...refusedFindings(lintMigration(migration, catalog ? { catalog } : {}), migration.manifest).filter((f) => f.stepId === undefined || ids.has(f.stepId)),
    );
  }
  if (refused.length === 0) return undefined;
  const lines = refused.map((f) => `${findingPlace(f)} [${f.rule}] ${f.message}\n      fix: ${f.fix}`);
  const example = refused[0] as Finding;
  return new FerryError(
    'E_LINT',
    `refusing to run: ${refused.length} error-level lint finding${refused.length === 1 ? '' : 's'} not acknowledged:\n  ${lines.join('\n  ')}`,
    `fix the SQL as suggested; or, where it is safe here, disable the rule for that statement with a comment \`-- ferry-lint-disable ${example.rule} -- <reason>\`, or acknowledge it in the manifest: "lint": { "acknowledge": ["${example.stepId ? `${example.stepId}:` : ''}${example.rule}"] }; \`ferry lint\` shows every finding`,
    { findings: refused },
  );
}

/**
 * {@link lintRefusal} against the live catalog of `db` (the target `ferry up`
 * and `plan` run on), read only when some migration has pending steps.
 */
export async function lintRefusalIn(db: Queryable, work: { migration: Migration; pending: Step[] }[]): Promise<FerryError | undefined> {
  if (work.every((w) => w.pending.length === 0)) return undefined;
  return lintRefusal(work, await readLintCatalog(db));
}
