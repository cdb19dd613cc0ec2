import { expect, it } from 'vitest';
import { prepareBackfill, runBackfill } from '../../src/backfill/index.js';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { forEachDriver } from '../helpers/databases.js';
import { checksum, FAST, seedUsers, specOf, stateRows, targetOf } from './fixtures.js';

/** Each bad step, and a piece of the message it must be rejected with. */
const BAD: { name: string; step: Record<string, unknown>; says: string }[] = [
  { name: 'unknown table', step: { table: 'nobody' }, says: 'table nobody does not exist' },
  { name: 'unknown schema', step: { table: 'nowhere.users' }, says: 'table nowhere.users does not exist' },
  { name: 'unknown column in set', step: { set: { middle_name: "'x'" } }, says: 'column middle_name does not exist' },
  { name: 'unknown column inside a set expression', step: { set: { first_name: 'upper(fullname)' } }, says: 'column "fullname" does not exist' },
  { name: 'unknown column in where', step: { where: 'frist_name IS NULL' }, says: 'column "frist_name" does not exist' },
  { name: 'a where that is not a boolean', step: { where: 'full_name' }, says: 'does not plan' },
  { name: 'no primary key and no key given', step: { table: 'heap' }, says: 'has no primary key and the step gives no key' },
  { name: 'a key that is not unique', step: { table: 'heap', key: ['full_name'] }, says: 'is not unique' },
  { name: 'a nullable key column', step: { table: 'heap', key: ['first_name'] }, says: 'key column first_name is nullable' },
  { name: 'a key column that does not exist', step: { key: ['uid'] }, says: 'key column uid does not exist' },
  { name: 'a set that writes the key', step: { set: { id: 'id + 1' } }, says: 'part of the key' },
  { name: 'an expression that does not parse', step: { set: { first_name: "split_part(full_name, ' ', " } }, says: 'does not parse' },
  { name: 'two expressions smuggled with ";"', step: { set: { first_name: "'x'); DELETE FROM users; SELECT (1" } }, says: 'not exactly one SQL expression' },
  { name: 'a second column smuggled with ","', step: { set: { first_name: "'x'), last_name = ('y'" } }, says: 'not exactly one SQL expression' },
  { name: 'a where with a FROM', step: { where: 'true) FROM users WHERE (true' }, says: 'not exactly one SQL expression' },
  { name: 'a comment that would swallow the rest', step: { where: 'first_name IS NULL /* open' }, says: 'does not parse' },
  { name: 'a bad rollback expression', step: { rollback: { first_name: 'nul' } }, says: 'does not plan' },
];

async function rejection(p: Promise<unknown>) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isFerryError(err)) throw new Error(`expected a FerryError, got ${String(err)}`);
  return err;
}

forEachDriver('backfill validation', (suite) => {
  let db: Database;
  it('rejects every bad step before touching data: the table is unchanged and no backfill state is created', async () => {
    db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 300);
      await db.exec(`CREATE TABLE heap (full_name text NOT NULL, first_name text); INSERT INTO heap SELECT 'a b' FROM generate_series(1, 10);`);
      const before = `${await checksum(db, 'users')} ${await checksum(db, 'heap', 't::text')}`;
      for (const bad of BAD) {
        const spec = specOf({ ...FAST, ...bad.step });
        for (const run of [() => prepareBackfill(db, targetOf(spec)), () => runBackfill(db, targetOf(spec), { lockTimeoutMs: 1000 })]) {
          const err = await rejection(run());
          expect(err.code, bad.name).toBe('E_MANIFEST');
          expect(err.message, bad.name).toContain(bad.says);
          expect(err.hint, bad.name).toBeTruthy();
        }
      }
      expect(`${await checksum(db, 'users')} ${await checksum(db, 'heap', 't::text')}`).toBe(before);
      expect(await stateRows(db)).toBe(0);
      // The same step, fixed, prepares.
      await prepareBackfill(db, targetOf(specOf(FAST)));
      expect(await stateRows(db)).toBeGreaterThan(0);
    } finally {
      await db.close();
    }
  });
});
