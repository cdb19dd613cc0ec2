import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { openServer } from '../../src/db/server.js';
import { checksumTables, withSnapshot } from '../../src/verify/index.js';
import { createServerDatabase, serverAvailable } from '../helpers/databases.js';
import { createFixture, fixtureSpec } from './fixtures.js';

const ROWS = 20_000;

describe.runIf(await serverAvailable())('snapshot consistency beside live writes', () => {
  let url: string;
  let drop: () => Promise<void>;
  const open: Database[] = [];
  const session = async () => {
    const db = await openServer({ url });
    open.push(db);
    return db;
  };

  beforeAll(async () => {
    ({ url, drop } = await createServerDatabase('ferry_vsnap'));
    await createFixture(await session(), 'items', 'int', ROWS);
  });
  afterAll(async () => {
    for (const db of open) await db.close();
    await drop();
  });

  /** Update random rows of `items` in a loop until stopped; resolves to how many updates committed. */
  function startWriter(db: Database): { count: () => number; stop: () => Promise<number> } {
    let stopping = false;
    let n = 0;
    const loop = (async () => {
      while (!stopping) {
        await db.query(`UPDATE items SET name = name || '+', amount = amount + 1 WHERE g = 1 + floor(random() * ${ROWS})::int`);
        n++;
      }
    })();
    return {
      count: () => n,
      stop: async () => {
        stopping = true;
        await loop;
        return n;
      },
    };
  }

  test('two sessions of one database share the exported snapshot', async () => {
    const [a, b] = [await session(), await session()];
    const mode = await withSnapshot(a, b, async (pair) => {
      const s = await pair.source.query<{ x: string }>('SELECT pg_current_snapshot()::text AS x');
      const t = await pair.target.query<{ x: string }>('SELECT pg_current_snapshot()::text AS x');
      expect(t.rows[0]?.x).toBe(s.rows[0]?.x);
      return pair.mode;
    });
    expect(mode).toBe('shared');
  });

  test('a table compared with itself while a writer updates it shows no difference', async () => {
    const [a, b, w] = [await session(), await session(), await session()];
    const writer = startWriter(w);
    let atFirstChunk = -1;
    let atEnd = -1;
    let result: Awaited<ReturnType<typeof checksumTables>> | undefined;
    try {
      // Small chunks: many statements per side, so the writer commits between the two sides' reads of a chunk.
      result = await checksumTables(a, b, fixtureSpec('int', 'items', 'items'), {
        chunkRows: 250,
        onProgress: () => {
          if (atFirstChunk < 0) atFirstChunk = writer.count();
        },
      });
      atEnd = writer.count();
    } finally {
      await writer.stop();
    }
    // The writer committed updates while the comparison ran.
    expect(atEnd - atFirstChunk).toBeGreaterThan(10);
    expect(result).toMatchObject({ ok: true, differenceCount: 0, snapshot: 'shared', sourceRows: ROWS, targetRows: ROWS });
  });

  test('resumable runs read each chunk at one instant, so a live writer still shows no difference', async () => {
    const [a, b, w] = [await session(), await session(), await session()];
    const writer = startWriter(w);
    try {
      const r = await checksumTables(a, b, fixtureSpec('int', 'items', 'items'), { chunkRows: 500, runId: 'live-writer' });
      expect(r).toMatchObject({ ok: true, snapshot: 'shared', snapshotScope: 'chunk', chunks: 41 });
    } finally {
      expect(await writer.stop()).toBeGreaterThan(10);
    }
  });
});
