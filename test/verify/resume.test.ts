import { expect, test } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { checksumTables, dropRun } from '../../src/verify/index.js';
import { forEachDriver } from '../helpers/databases.js';
import { createFixture, fixtureSpec, injectDifferences, keysOf } from './fixtures.js';

const ROWS = 10_000;

forEachDriver('resumable checksum runs', (suite) => {
  test('a re-run with the same run id skips the chunks an interrupted run finished, and still reports every difference', async () => {
    const db = await (await suite.fresh()).open();
    try {
      await createFixture(db, 'source', 'int', ROWS);
      await createFixture(db, 'target', 'int', ROWS, 'alt');
      const injected = await injectDifferences(db, 'target', 'int', ROWS, 8);
      const spec = fixtureSpec('int', 'source', 'target');
      const stop = new AbortController();
      const first = checksumTables(db, db, spec, {
        chunkRows: 1_000,
        runId: 'run-1',
        signal: stop.signal,
        onProgress: (p) => {
          if (p.chunksDone === 4) stop.abort(new Error('interrupted'));
        },
      });
      await expect(first).rejects.toThrow('interrupted');
      const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ferry.verify_chunks WHERE run_id = 'run-1'`);
      expect(rows[0]?.n).toBe(4);

      const progress: number[] = [];
      const again = await checksumTables(db, db, spec, { chunkRows: 1_000, runId: 'run-1', onProgress: (p) => progress.push(p.chunksDone) });
      expect(again).toMatchObject({ chunks: 11, chunksSkipped: 4, sourceRows: ROWS, differenceCount: 8, runId: 'run-1', snapshotScope: 'chunk' });
      expect(new Set(keysOf(again.differences))).toEqual(injected);
      expect(progress).toEqual([5, 6, 7, 8, 9, 10, 11]);

      // Finished: a third run reads nothing but the state.
      const done = await checksumTables(db, db, spec, { chunkRows: 1_000, runId: 'run-1' });
      expect(done).toMatchObject({ chunksSkipped: 11, differenceCount: 8 });
      expect(done.stats.queries).toBeLessThanOrEqual(4);

      // The same id with another comparison is refused.
      const other = checksumTables(db, db, { ...spec, columns: ['name'] }, { chunkRows: 1_000, runId: 'run-1' });
      await expect(other).rejects.toSatisfy((e: unknown) => isFerryError(e, 'E_VERIFY'));
      await dropRun(db, 'run-1');
      expect((await checksumTables(db, db, { ...spec, columns: ['name'] }, { chunkRows: 1_000, runId: 'run-1' })).chunksSkipped).toBe(0);
    } finally {
      await db.close();
    }
  });
});
