import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parserReady } from '../../src/db/sql-script.js';
import { lintMigration, refusedFindings } from '../../src/lint/index.js';
import { loadMigration } from '../../src/migration/loader.js';
import { OPERATIONS } from '../../src/operations/index.js';

/**
 * One spec per operation (and per mode where an operation has several): what
 * ferry generates must never be what its own linter refuses, or `ferry up`
 * would stop on an operation's SQL.
 */
const SPECS: Record<string, Record<string, unknown>[]> = {
  'add-column': [
    { table: 'users', column: 'score', type: 'int', default: '0', notNull: true, check: 'score >= 0', comment: 'points' },
    { table: 'users', column: 'token', type: 'uuid', default: 'gen_random_uuid()', volatile: true },
  ],
  'drop-column': [{ table: 'users', column: 'legacy' }],
  'rename-column': [{ table: 'users', from: 'email', to: 'contact' }],
  'split-column': [
    {
      table: 'users',
      column: 'full_name',
      into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
      merge: "first_name || ' ' || last_name",
    },
  ],
  'merge-columns': [
    {
      table: 'users',
      columns: ['a', 'b'],
      into: { name: 'ab', type: 'text', expr: "a || '-' || b" },
      split: { a: "split_part(ab, '-', 1)", b: "split_part(ab, '-', 2)" },
    },
  ],
  'change-type': [{ table: 'users', column: 'amount', type: 'bigint', using: 'amount::bigint', reverse: 'amount::int' }],
  'alter-column': [
    { table: 'users', column: 'nick', notNull: false, default: "'anon'", comment: 'shown name' },
    { table: 'users', column: 'code', type: 'varchar(200)' },
    { table: 'users', column: 'price', type: 'bigint', up: 'price::bigint', down: 'price::int' },
    {
      table: 'users',
      column: 'email',
      type: 'text',
      notNull: true,
      unique: { name: 'users_email_key' },
      check: { name: 'email_has_at', expression: "position('@' in email) > 0" },
      up: "coalesce(email, 'none@invalid')",
    },
  ],
  'add-index': [
    {
      table: 'users',
      name: 'users_email_prefix',
      columns: [{ name: 'email', opclass: 'text_pattern_ops', order: 'desc', nulls: 'last' }, 'tenant_id'],
      include: ['nick'],
      with: { fillfactor: 70 },
      where: 'deleted_at IS NULL',
    },
    { table: 'users', name: 'users_code_key', columns: ['code'], unique: true, nullsNotDistinct: true },
  ],
  'add-foreign-key': [
    { table: 'orders', name: 'orders_user_fk', columns: ['user_id'], references: { table: 'users', columns: ['id'] } },
    {
      table: 'orders',
      name: 'orders_user_fk',
      columns: ['user_id'],
      references: { table: 'users', columns: ['id'] },
      compat: true,
      type: 'bigint',
      up: 'CASE WHEN EXISTS (SELECT 1 FROM users u WHERE u.id = user_id) THEN user_id END',
    },
  ],
  'add-unique': [
    { table: 'users', name: 'users_handle_key', columns: ['handle'] },
    { table: 'users', name: 'users_handle_key', columns: ['handle'], compat: true, type: 'text', up: "handle || '-' || id" },
  ],
  'add-primary-key': [{ table: 'events', name: 'events_pkey', columns: ['id'] }],
  'drop-constraint': [{ table: 'users', name: 'users_age_check' }],
  'rename-constraint': [{ table: 'users', from: 'users_age_check', to: 'users_age_positive' }],
  'drop-index': [{ table: 'users', name: 'users_old_idx' }],
  'set-replica-identity': [{ table: 'users', identity: 'full' }],
  'create-table': [
    {
      table: 'tags',
      comment: 'labels',
      columns: [
        { name: 'id', type: 'bigint', primaryKey: true },
        { name: 'label', type: 'text', nullable: false, unique: true, check: "label <> ''", comment: 'shown' },
      ],
    },
  ],
  'rename-table': [{ from: 'users', to: 'accounts' }],
  'drop-table': [{ table: 'legacy_log' }],
  'create-enum': [{ name: 'mood', values: ['happy', 'sad'] }],
  'add-enum-value': [{ type: 'mood', value: 'meh', after: 'happy' }],
  'create-type': [{ name: 'address', attributes: [{ name: 'street', type: 'text' }] }],
  'raw-sql': [{ forward: 'CREATE TABLE notes (id int)', rollback: 'DROP TABLE notes' }],
};

describe('the linter on what the operations generate', () => {
  it('has a spec for every operation', () => {
    expect(Object.keys(SPECS).sort()).toEqual(OPERATIONS.map((o) => o.name).sort());
  });

  for (const [op, specs] of Object.entries(SPECS)) {
    specs.forEach((spec, i) => {
      it(`${op} #${i + 1}: no error finding is left that would stop ferry up`, async () => {
        await parserReady();
        const id = '0002_op';
        const dir = join(mkdtempSync(join(tmpdir(), 'ferry-lint-ops-')), id);
        mkdirSync(dir);
        const manifest = {
          title: op,
          summary: 'lint test',
          type: 'schema-destructive',
          strategy: 'big-bang',
          steps: [{ id: 'step', kind: 'op', op, ...spec }],
        };
        writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest, null, 2));
        const m = await loadMigration(dir, id);
        const report = lintMigration(m);
        expect(refusedFindings(report, m.manifest).map((f) => `${f.stepId}: ${f.rule}: ${f.message}`)).toEqual([]);
      });
    });
  }
});
