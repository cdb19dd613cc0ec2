import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parserReady } from '../../src/db/sql-script.js';
import { type LintCatalog, lintMigration, refusedFindings } from '../../src/lint/index.js';
import { loadMigration, type Migration } from '../../src/migration/loader.js';

/** A migration folder with manifest `steps` (SQL steps read `<id>.up.sql` from `sql`), loaded with ferry's own loader. */
async function migration(steps: Record<string, unknown>[], sql: Record<string, string>): Promise<Migration> {
  await parserReady();
  const dir = join(mkdtempSync(join(tmpdir(), 'ferry-lint-contract-')), '0002_drop_legacy');
  mkdirSync(dir);
  for (const [id, text] of Object.entries(sql)) writeFileSync(join(dir, `${id}.up.sql`), text);
  const manifest = { title: 'drop legacy', summary: 'lint test', type: 'api-breaking', strategy: 'big-bang', steps };
  writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest, null, 2));
  return loadMigration(dir, '0002_drop_legacy');
}

const column = { type: 'bigint', typeName: 'int8', typeSchema: 'pg_catalog', typmod: -1, collation: null };
/** A catalog holding `public.legacy` (and `public.other`). */
const CATALOG: LintCatalog = {
  searchPath: ['public'],
  tables: [
    { schema: 'public', name: 'legacy', kind: 'table', rows: 5_000, bytes: 409_600, columns: { id: column } },
    { schema: 'public', name: 'other', kind: 'table', rows: 5_000, bytes: 409_600, columns: { id: column } },
  ],
  indexes: [],
};

/** The rule, status and severity of every drop-table finding, and the refused rules: what makes `ferry lint` exit 15. */
function verdict(m: Migration, catalog?: LintCatalog) {
  const report = lintMigration(m, catalog ? { catalog } : {});
  return {
    drops: report.findings.filter((f) => f.rule === 'drop-table').map((f) => [f.stepId, f.status, f.severity]),
    refused: refusedFindings(report, m.manifest).map((f) => `${f.stepId}:${f.rule}`),
  };
}

const renameOp = { id: 'hide', kind: 'op', op: 'rename-table', from: 'legacy', to: 'legacy_old' };
const dropStep = (phase?: 'contract') => ({ id: 'drop', transaction: true, irreversible: true, ...(phase ? { phase } : {}) });

describe('drop-table in the contract step that follows a rename in expand', () => {
  it('after the rename-table operation: handled, not refused, with or without a catalog', async () => {
    const m = await migration([renameOp, dropStep('contract')], { drop: 'DROP TABLE legacy_old;' });
    for (const catalog of [undefined, CATALOG]) {
      expect(verdict(m, catalog)).toEqual({ drops: [['drop', 'handled', 'info']], refused: [] });
    }
    const f = lintMigration(m).findings.find((x) => x.rule === 'drop-table');
    expect(f?.note).toBe('handled: a contract step dropping the table an expand step renamed away');
  });

  it('after a rename written in SQL in an expand step: the drop is handled (the bare rename is its own finding)', async () => {
    const m = await migration([{ id: 'hide', transaction: true, irreversible: true }, dropStep('contract')], {
      hide: 'ALTER TABLE legacy RENAME TO legacy_old;',
      drop: 'DROP TABLE legacy_old;',
    });
    expect(verdict(m, CATALOG)).toEqual({ drops: [['drop', 'handled', 'info']], refused: ['hide:rename-table'] });
  });

  it('the same DROP TABLE outside the contract phase is still refused (ferry lint exits 15)', async () => {
    const m = await migration([renameOp, dropStep()], { drop: 'DROP TABLE legacy_old;' });
    expect(verdict(m, CATALOG)).toEqual({ drops: [['drop', 'active', 'error']], refused: ['drop:drop-table'] });
  });

  it('a contract DROP TABLE of a table no expand step renamed away is still refused', async () => {
    const m = await migration([renameOp, dropStep('contract')], { drop: 'DROP TABLE other;' });
    expect(verdict(m, CATALOG)).toEqual({ drops: [['drop', 'active', 'error']], refused: ['drop:drop-table'] });
  });

  it('a table renamed in a contract step does not count as renamed away in expand', async () => {
    const m = await migration(
      [
        { id: 'hide', transaction: true, irreversible: true, phase: 'contract' },
        { id: 'drop', transaction: true, irreversible: true, phase: 'contract' },
      ],
      { hide: 'ALTER TABLE legacy RENAME TO legacy_old;', drop: 'DROP TABLE legacy_old;' },
    );
    expect(verdict(m, CATALOG).refused).toEqual(['hide:rename-table', 'drop:drop-table']);
  });
});
