import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { openPglite } from '../../src/db/pglite.js';
import { quoteIdent } from '../../src/db/quote.js';
import { openServer } from '../../src/db/server.js';
import { checksumTables } from '../../src/verify/index.js';
import { createServerDatabase, serverAvailable } from '../helpers/databases.js';
import { createFixture, fixtureSpec, injectDifferences, type KeyKind, keysOf } from './fixtures.js';

const ROWS = 20_000;

describe.runIf(await serverAvailable())('checksum across two databases', () => {
  const cleanups: (() => Promise<void>)[] = [];
  let source: Database;
  const targets: Record<'server' | 'pglite', Database> = {} as Record<'server' | 'pglite', Database>;

  beforeAll(async () => {
    const s = await createServerDatabase('ferry_vsrc');
    const t = await createServerDatabase('ferry_vtgt');
    cleanups.push(s.drop, t.drop);
    source = await openServer({ url: s.url });
    targets.server = await openServer({ url: t.url });
    // The target server reads timestamps in another zone by default: equal instants must still be equal.
    await targets.server.query(`ALTER DATABASE ${quoteIdent(t.name)} SET timezone = 'America/New_York'`);
    const dir = mkdtempSync(join(tmpdir(), 'ferry-verify-'));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    targets.pglite = await openPglite({ dataDir: join(dir, 'db') });
    for (const kind of ['int', 'text', 'composite'] as KeyKind[]) {
      const rows = kind === 'int' ? ROWS : 5_000;
      await createFixture(source, `items_${kind}`, kind, rows);
      for (const db of Object.values(targets)) await createFixture(db, `items_${kind}`, kind, rows, 'alt');
    }
  });
  afterAll(async () => {
    await source?.close();
    for (const db of Object.values(targets)) await db.close();
    for (const c of cleanups) await c().catch(() => {});
  });

  for (const to of ['server', 'pglite'] as const) {
    test(`server → ${to}: equal data passes, each side read in its own snapshot`, async () => {
      const r = await checksumTables(source, targets[to], fixtureSpec('int', 'items_int', 'items_int'), { chunkRows: 2_000 });
      expect(r).toMatchObject({ ok: true, sourceRows: ROWS, targetRows: ROWS, snapshot: 'per-side', snapshotScope: 'run' });
      expect(r.stats.rowsFetched).toBeLessThan(100);
    });

    for (const kind of ['int', 'text', 'composite'] as KeyKind[]) {
      test(`server → ${to}, ${kind} keys: the 10 injected differences and nothing else`, async () => {
        const rows = kind === 'int' ? ROWS : 5_000;
        const table = `items_${kind}`;
        await targets[to].exec(`DROP TABLE ${table}`);
        await createFixture(targets[to], table, kind, rows, 'alt');
        const injected = await injectDifferences(targets[to], table, kind, rows, 10);
        const r = await checksumTables(source, targets[to], fixtureSpec(kind, table, table), { chunkRows: 1_000, leafRows: 64 });
        expect(new Set(keysOf(r.differences))).toEqual(injected);
        expect(r.differenceCount).toBe(10);
        expect(r.stats.rowsFetched).toBeLessThan(3 * 10 * 64 + 200);
      });
    }
  }
});
