import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { backfillProgress, controlBackfill, prepareBackfill, rollbackBackfill, runBackfill } from '../../src/backfill/index.js';
import type { Database } from '../../src/db/database.js';
import { type FerryError, isFerryError } from '../../src/errors.js';
import { forEachDriver } from '../helpers/databases.js';
import { checksum, FAST, SPLIT_NAME, seedUsers, setBasedReference, specOf, stateRows, targetOf } from './fixtures.js';

const opts = { lockTimeoutMs: 2000 };

/** A transform module in a temporary directory. */
function moduleFile(source: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'ferry-transform-')), 'transform.ts');
  writeFileSync(file, source);
  return file;
}

async function failure(p: Promise<unknown>): Promise<FerryError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isFerryError(err)) throw new Error(`expected a FerryError, got ${String(err)}`);
  return err;
}

const filled = async (db: Database) => Number((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM users WHERE first_name IS NOT NULL')).rows[0]?.n);

forEachDriver('backfill engine', (suite) => {
  it('fills every row like one set-based UPDATE (checksums equal), in keyset batches with checkpoints', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 5000);
      await db.exec(`UPDATE users SET first_name = 'kept', touched = 7 WHERE id % 10 = 0`);
      const expected = await setBasedReference(db, 'users', SPLIT_NAME.set, SPLIT_NAME.where);
      const spec = specOf({ ...FAST, ranges: 4 });
      await prepareBackfill(db, targetOf(spec));
      await prepareBackfill(db, targetOf(spec));
      const seen: number[] = [];
      const p = await runBackfill(db, targetOf(spec), { ...opts, onProgress: (x) => seen.push(x.rowsDone) });
      expect(await checksum(db, 'users')).toBe(expected);
      expect(p).toMatchObject({ state: 'done', rowsDone: 4500, rowsTotal: 4500, rangesDone: 4, rangesTotal: 4, etaSeconds: 0 });
      expect(p.batches).toBeGreaterThan(4);
      expect(seen.at(-1)).toBe(4500);
      expect((await backfillProgress(db))[0]).toMatchObject({ state: 'done', rowsDone: 4500 });
    } finally {
      await db.close();
    }
  });

  it('walks a composite key with row comparisons, and a unique non-primary key given in the step', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 10);
      await db.exec(`CREATE TABLE events (tenant int NOT NULL, seq int NOT NULL, payload text NOT NULL, kind text, PRIMARY KEY (tenant, seq));
        INSERT INTO events SELECT t, s, 'k' || ((t * s) % 7) || ':x' FROM generate_series(1, 30) t, generate_series(1, 97) s;
        CREATE TABLE nopk (code text NOT NULL, v int, w int);
        CREATE UNIQUE INDEX nopk_code ON nopk (code);
        INSERT INTO nopk SELECT 'c' || g, g FROM generate_series(1, 1000) g;`);
      const set = { kind: "split_part(payload, ':', 1)" };
      await db.exec('CREATE TABLE events_ref AS SELECT * FROM events');
      await db.exec(`UPDATE events_ref SET kind = ${set.kind} WHERE kind IS NULL`);
      const expected = await checksum(db, 'events_ref', 'tenant, seq');
      const spec = specOf({
        ...FAST,
        id: 'kinds',
        table: 'public.events',
        set,
        where: 'kind IS NULL',
        ranges: 7,
        batchSize: { initial: 50, min: 10, max: 300 },
      });
      expect(await runBackfill(db, targetOf(spec), opts)).toMatchObject({ state: 'done', rowsDone: 2910, rangesDone: 7 });
      expect(await checksum(db, 'events', 'tenant, seq')).toBe(expected);

      const byCode = specOf({ ...FAST, id: 'by-code', table: 'nopk', key: ['code'], set: { w: 'v * 2' }, where: 'w IS NULL', ranges: 3 });
      expect(await runBackfill(db, targetOf(byCode), opts)).toMatchObject({ state: 'done', rowsDone: 1000 });
      expect((await db.query('SELECT count(*)::int AS n FROM nopk WHERE w = v * 2')).rows[0]).toEqual({ n: 1000 });
    } finally {
      await db.close();
    }
  });

  it('runs a TypeScript transform: rows read by key, values written as parameters, same result as the SQL', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 3000);
      await db.exec(`UPDATE users SET full_name = 'O''Brien Zoë', first_name = NULL WHERE id = 42`);
      const expected = await setBasedReference(db, 'users', SPLIT_NAME.set, SPLIT_NAME.where);
      const file = moduleFile(`export function transform(row: { full_name: string; touched: number }) {
        const [first, last] = row.full_name.split(' ');
        return { first_name: first, last_name: last ?? '', touched: row.touched + 1 };
      }`);
      const { set: _set, ...rest } = SPLIT_NAME;
      const spec = specOf({ ...rest, ...FAST, set: undefined, module: './transform.ts', ranges: 3 });
      expect(await runBackfill(db, targetOf(spec, file), opts)).toMatchObject({ state: 'done', rowsDone: 3000 });
      expect(await checksum(db, 'users')).toBe(expected);
    } finally {
      await db.close();
    }
  });

  it('pauses between batches when asked from another session, and finishes when resumed', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    // PGlite is one session per process: the "other terminal" is the same handle there.
    const other = target.kind === 'server' ? await target.open() : db;
    try {
      await seedUsers(db, 4000);
      const expected = await setBasedReference(db, 'users', SPLIT_NAME.set, SPLIT_NAME.where);
      const spec = specOf({ ...FAST, batchSize: { initial: 100, min: 50, max: 100 }, sleepRatio: 1, ranges: 2 });
      let asked: Promise<unknown> | undefined;
      const paused = await runBackfill(db, targetOf(spec), {
        ...opts,
        onProgress: (p) => {
          if (p.rowsDone > 0 && !asked) asked = controlBackfill(other, '0001_split', spec.id, 'pause', 'operator');
        },
      });
      await asked;
      expect(paused.state).toBe('paused');
      expect(paused.rowsDone).toBeGreaterThan(0);
      expect(paused.rowsDone).toBeLessThan(4000);
      // The checkpoint is exactly what is in the data.
      expect(await filled(db)).toBe(paused.rowsDone);
      expect(paused.workers).toBe(0);
      // Running it again while paused does nothing.
      expect((await runBackfill(db, targetOf(spec), opts)).rowsDone).toBe(paused.rowsDone);
      expect((await controlBackfill(other, '0001_split', spec.id, 'resume', 'operator')).state).toBe('running');
      expect(await runBackfill(db, targetOf(spec), opts)).toMatchObject({ state: 'done', rowsDone: 4000 });
      expect(await checksum(db, 'users')).toBe(expected);
      // The operator's requests, each logged once. (The pacer's own events may come between them: on a shared
      // server the other sessions are load to it.)
      const { rows } = await db.query<{ kind: string; actor: string }>(
        `SELECT kind, actor FROM ferry.events WHERE kind IN ('backfill-pause', 'backfill-resume', 'backfill-cancel') ORDER BY id`,
      );
      expect(rows).toEqual([
        { kind: 'backfill-pause', actor: 'operator' },
        { kind: 'backfill-resume', actor: 'operator' },
      ]);
    } finally {
      if (other !== db) await other.close();
      await db.close();
    }
  });

  it('cancels between batches: the rows done stay done, nothing runs until resumed', async () => {
    const target = await suite.fresh();
    const db = await target.open();
    const other = target.kind === 'server' ? await target.open() : db;
    try {
      await seedUsers(db, 3000);
      const spec = specOf({ ...FAST, batchSize: { initial: 100, min: 50, max: 100 }, sleepRatio: 1, ranges: 1 });
      let asked: Promise<unknown> | undefined;
      const cancelled = await runBackfill(db, targetOf(spec), {
        ...opts,
        onProgress: (p) => {
          if (p.rowsDone > 0 && !asked) asked = controlBackfill(other, '0001_split', spec.id, 'cancel', 'operator');
        },
      });
      await asked;
      expect(cancelled.state).toBe('cancelled');
      expect(await filled(db)).toBe(cancelled.rowsDone);
      expect(cancelled.rowsDone).toBeLessThan(3000);
      expect((await runBackfill(db, targetOf(spec), opts)).state).toBe('cancelled');
      expect(await filled(db)).toBe(cancelled.rowsDone);
      await controlBackfill(db, '0001_split', spec.id, 'resume', 'operator');
      expect(await runBackfill(db, targetOf(spec), opts)).toMatchObject({ state: 'done', rowsDone: 3000 });
    } finally {
      if (other !== db) await other.close();
      await db.close();
    }
  });

  it('stops on a data error naming the key and the value, with nothing of that batch written; runs on once fixed', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 10);
      await db.exec(`CREATE TABLE readings (id int PRIMARY KEY, raw text NOT NULL, num int);
        INSERT INTO readings SELECT g, g::text FROM generate_series(1, 3000) g;
        UPDATE readings SET raw = 'twelve' WHERE id = 1234;`);
      const spec = specOf({
        ...FAST,
        id: 'nums',
        table: 'readings',
        set: { num: 'raw::int' },
        where: 'num IS NULL',
        ranges: 1,
        batchSize: { initial: 500, min: 500, max: 500 },
      });
      const err = await failure(runBackfill(db, targetOf(spec), opts));
      expect(err.code).toBe('E_BACKFILL');
      expect(err.message).toContain('key (id)=(1234)');
      expect(err.message).toContain('invalid input syntax for type integer: "twelve"');
      expect(err.message).toContain('"raw":"twelve"');
      const p = (await backfillProgress(db, '0001_split', 'nums'))[0];
      expect(p).toMatchObject({ state: 'failed', rowsDone: 1000 });
      // Batches of 500: 1..1000 committed, the batch 1001..1500 left untouched.
      expect((await db.query('SELECT count(num)::int AS n, max(id) FILTER (WHERE num IS NOT NULL) AS last FROM readings')).rows[0]).toEqual({
        n: 1000,
        last: 1000,
      });
      await db.exec(`UPDATE readings SET raw = '12' WHERE id = 1234`);
      expect(await runBackfill(db, targetOf(spec), opts)).toMatchObject({ state: 'done', rowsDone: 3000 });
      expect((await db.query('SELECT count(*)::int AS n FROM readings WHERE num = raw::int')).rows[0]).toEqual({ n: 3000 });
    } finally {
      await db.close();
    }
  });

  it('stops when the TypeScript transform throws, naming the key and the row, nothing of that batch written', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 2000);
      const file = moduleFile(`export default function transform(row: { id: string | number; full_name: string }) {
        if (Number(row.id) === 777) throw new Error('cannot split ' + row.full_name);
        const [first_name, last_name] = row.full_name.split(' ');
        return { first_name, last_name };
      }`);
      const spec = specOf({ ...FAST, set: undefined, module: 'x.ts', ranges: 1, batchSize: { initial: 300, min: 300, max: 300 } });
      const err = await failure(runBackfill(db, targetOf(spec, file), opts));
      expect(err.code).toBe('E_BACKFILL');
      expect(err.message).toContain('key (id)=(777)');
      expect(err.message).toContain('cannot split First777 Last1');
      expect(await filled(db)).toBe(600);
      expect((await backfillProgress(db))[0]).toMatchObject({ state: 'failed', rowsDone: 600 });
    } finally {
      await db.close();
    }
  });

  it('rolls back with the rollback expressions in batches and forgets its state, so up starts over', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await seedUsers(db, 2500);
      const before = await checksum(db, 'users');
      const spec = specOf({ ...FAST, rollback: { first_name: 'NULL', last_name: 'NULL', touched: 'touched - 1' }, ranges: 3 });
      await runBackfill(db, targetOf(spec), opts);
      expect(await filled(db)).toBe(2500);
      let batches = 0;
      await rollbackBackfill(db, targetOf(spec), { ...opts, onProgress: () => batches++ });
      expect(batches).toBeGreaterThan(1);
      expect(await checksum(db, 'users')).toBe(before);
      expect(await stateRowsFor(db)).toBe(0);
      expect(await runBackfill(db, targetOf(spec), opts)).toMatchObject({ state: 'done', rowsDone: 2500 });
      // Without rollback expressions there is nothing to undo in data; the state is still forgotten.
      await rollbackBackfill(db, targetOf(specOf(FAST)), opts);
      expect(await filled(db)).toBe(2500);
      expect(await stateRowsFor(db)).toBe(0);
    } finally {
      await db.close();
    }
  });
});

const stateRowsFor = stateRows;
