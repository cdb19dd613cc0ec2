import { beforeAll, expect, test } from 'vitest';
import { bucketOf, inRollout } from '../../src/bucket.js';
import type { Database } from '../../src/db/database.js';
import { ensureState } from '../../src/state/store.js';
import { assertSchema, checksum, countRows, diffRows, sampleRows } from '../../src/verify/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { createFixture, fixtureSpec, injectDifferences, keysOf } from './fixtures.js';

const ROWS = 5_000;

forEachDriver('count, diff, sample, cohort and schema checks', (suite) => {
  let db: Database;
  let injected: Set<string>;
  beforeAll(async () => {
    db = await (await suite.fresh()).open();
    await ensureState(db);
    await createFixture(db, 'source', 'int', ROWS);
    await createFixture(db, 'target', 'int', ROWS, 'alt');
    injected = await injectDifferences(db, 'target', 'int', ROWS, 16);
    return () => db.close();
  });

  test('count compares tables, filtered tables and queries', async () => {
    const equal = await countRows(db, db, { source: { table: 'source' }, target: { query: 'SELECT * FROM source' } });
    expect(equal).toMatchObject({ ok: true, sourceRows: ROWS, targetRows: ROWS, difference: 0 });
    // 16 changes: 2 deletes and 2 inserts, so the totals agree but a filter shows the deletes.
    expect((await countRows(db, db, { source: { table: 'source' }, target: { table: 'target' } })).ok).toBe(true);
    const filtered = await countRows(db, db, { source: { table: 'source', where: 'g <= $$5000$$::int' }, target: { table: 'target', where: 'g <= 5000' } });
    expect(filtered).toMatchObject({ ok: false, sourceRows: ROWS, targetRows: ROWS - 2, difference: -2 });
  });

  test('diff joins on the key and compares mapped expressions: first N keys, both values, and the total', async () => {
    await db.exec(`CREATE TABLE people (id int PRIMARY KEY, full_name text NOT NULL);
      CREATE TABLE people_split (id int PRIMARY KEY, first_name text, last_name text);
      INSERT INTO people SELECT g, 'Ann' || g || ' Lee' || g FROM generate_series(1, 500) g;
      INSERT INTO people_split SELECT g, 'Ann' || g, 'Lee' || g FROM generate_series(1, 500) g;
      UPDATE people_split SET first_name = NULL WHERE id IN (7, 300);
      UPDATE people_split SET last_name = 'Lée' WHERE id = 42;
      DELETE FROM people_split WHERE id = 99;`);
    const spec = {
      source: { table: 'people' },
      target: { table: 'people_split' },
      key: ['id'],
      columns: [
        { name: 'first_name', source: `split_part(full_name, ' ', 1)` },
        { name: 'last_name', source: `split_part(full_name, ' ', 2)` },
      ],
    };
    const r = await diffRows(db, spec, { limit: 3 });
    expect(r).toMatchObject({ ok: false, differenceCount: 4 });
    expect(r.differences).toEqual([
      {
        kind: 'changed',
        key: { id: '7' },
        columns: ['first_name'],
        source: { first_name: 'Ann7', last_name: 'Lee7' },
        target: { first_name: null, last_name: 'Lee7' },
      },
      {
        kind: 'changed',
        key: { id: '42' },
        columns: ['last_name'],
        source: { first_name: 'Ann42', last_name: 'Lee42' },
        target: { first_name: 'Ann42', last_name: 'Lée' },
      },
      { kind: 'missing', key: { id: '99' }, columns: ['first_name', 'last_name'], source: { first_name: 'Ann99', last_name: 'Lee99' }, target: null },
    ]);
    expect((await diffRows(db, spec, { limit: 0 })).differenceCount).toBe(4);
    // The fixture tables: the same keys the checksum finds, in other representations.
    const all = await diffRows(db, fixtureSpec('int', 'source', 'target'), { limit: 100 });
    expect(new Set(keysOf(all.differences))).toEqual(injected);
  });

  test('a sample of every key finds the changed and missing rows; a small sample only a subset', async () => {
    const r = await sampleRows(db, db, fixtureSpec('int', 'source', 'target'), { size: ROWS });
    const fromSource = [...injected].filter((k) => Number(k) <= ROWS);
    expect(r.sampled).toBe(ROWS);
    expect(new Set(keysOf(r.differences))).toEqual(new Set(fromSource));
    const small = await sampleRows(db, db, fixtureSpec('int', 'source', 'target'), { size: 100 });
    expect(small.sampled).toBe(100);
    for (const k of keysOf(small.differences)) expect(injected.has(k)).toBe(true);
    expect(small.stats.rowsFetched).toBeLessThanOrEqual(2 * 11 + 100 + 2 * 100 + 2 * small.differenceCount);
  });

  test('a cohort limits a check to the units inside the rollout', async () => {
    const cohort = { flag: 'new-checkout', unitColumn: 'unit', percent: 25 };
    const r = await checksum(db, db, { ...fixtureSpec('int', 'source', 'target'), cohort }, { chunkRows: 1_000 });
    const inCohort = (g: number) => inRollout(bucketOf('new-checkout', `user-${g}`), 25);
    const expected = [...injected].filter((k) => inCohort(Number(k)));
    expect(new Set(keysOf(r.differences))).toEqual(new Set(expected));
    const members = Array.from({ length: ROWS }, (_, i) => i + 1).filter(inCohort).length;
    expect(r.sourceRows).toBe(members);
    const counts = await countRows(db, db, { source: { table: 'source' }, target: { table: 'source' }, cohort });
    expect(counts.sourceRows).toBe(members);
  });

  test('schema assertions: columns, indexes, constraints', async () => {
    await db.exec(`CREATE TABLE orders (id int PRIMARY KEY, total int, gone int);
      ALTER TABLE orders DROP COLUMN gone;
      CREATE INDEX orders_total ON orders (total);
      ALTER TABLE orders ADD CONSTRAINT total_positive CHECK (total > 0) NOT VALID;
      ALTER TABLE orders ADD CONSTRAINT total_small CHECK (total < 1000000);
      UPDATE pg_index SET indisvalid = false WHERE indexrelid = 'orders_pkey'::regclass`);
    const r = await assertSchema(db, [
      { kind: 'column-exists', table: 'orders', column: 'total' },
      { kind: 'column-gone', table: 'orders', column: 'gone' },
      { kind: 'column-exists', table: 'orders', column: 'gone' },
      { kind: 'index-valid', index: 'orders_total' },
      { kind: 'index-valid', index: 'orders_pkey' },
      { kind: 'index-valid', schema: 'public', index: 'nope' },
      { kind: 'constraint-validated', table: 'orders', constraint: 'total_small' },
      { kind: 'constraint-validated', table: 'orders', constraint: 'total_positive' },
      { kind: 'no-invalid-constraints', table: 'orders' },
    ]);
    expect(r.ok).toBe(false);
    expect(r.results.map((x) => x.ok)).toEqual([true, true, false, true, false, false, true, false, false]);
    expect(r.results[8]?.detail).toContain('total_positive');
    await db.exec('ALTER TABLE orders VALIDATE CONSTRAINT total_positive');
    expect((await assertSchema(db, [{ kind: 'no-invalid-constraints', table: 'orders' }])).ok).toBe(true);
  });
});
