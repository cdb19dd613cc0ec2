import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parserReady, type Statement, splitStatements } from '../../src/db/sql-script.js';
import { loadMigration, type Migration } from '../../src/migration/loader.js';

/** A step for {@link migrationOf}: SQL steps by their forward SQL, other kinds by their manifest fields. */
export type StepSpec = { id: string; up: string; transaction?: boolean } | ({ id: string; kind: 'backfill' | 'ts' } & Record<string, unknown>);

/** Write a migration folder with `steps` and load it with ferry's own loader. */
export async function migrationOf(steps: StepSpec[], manifest: Record<string, unknown> = {}, id = '0002_change'): Promise<Migration> {
  const dir = join(mkdtempSync(join(tmpdir(), 'ferry-lint-')), id);
  mkdirSync(dir);
  const entries = steps.map((s) => {
    if ('up' in s) {
      writeFileSync(join(dir, `${s.id}.up.sql`), String(s.up));
      return { id: s.id, transaction: s.transaction ?? true, irreversible: true };
    }
    if (s.kind === 'ts') writeFileSync(join(dir, String(s.module)), 'export async function forward() {}\nexport async function rollback() {}\n');
    return s;
  });
  const full = { title: id, summary: 'lint test', type: 'schema-additive', strategy: 'big-bang', steps: entries, ...manifest };
  writeFileSync(join(dir, 'migration.json'), JSON.stringify(full, null, 2));
  return loadMigration(dir, id);
}

/** The statements of `sql`, cut by PostgreSQL's parser. */
export async function statementsOf(sql: string): Promise<Statement[]> {
  await parserReady();
  return splitStatements(sql);
}
