import { describe, expect, it } from 'vitest';
import { ImpactProbe } from '../../src/backfill/probe.js';
import { openServer } from '../../src/db/server.js';
import { createServerDatabase, serverAvailable } from '../helpers/databases.js';
import { seedUsers } from './fixtures.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const haveServer = await serverAvailable();

describe.skipIf(!haveServer)('the impact probe keeps its baseline fresh', () => {
  it('asks for a long rest once batches have left it no baseline sample for 5 s under load, and not after that rest', async () => {
    const created = await createServerDatabase();
    const open = () => openServer({ url: created.url });
    const [db, load, probeSession] = [await open(), await open(), await open()];
    let stopping = false;
    let loop: Promise<void> = Promise.resolve();
    let probe: ImpactProbe | undefined;
    try {
      await seedUsers(db, 200);
      const oid = (await db.query<{ oid: number }>(`SELECT 'users'::regclass::oid::int AS oid`)).rows[0]?.oid as number;
      // An application writing a row every 10 ms: the load the probe protects.
      loop = (async () => {
        while (!stopping) {
          await load.query('UPDATE users SET visits = visits + 1 WHERE id = $1', [1 + Math.floor(Math.random() * 200)]);
          await sleep(10);
        }
      })();
      probe = new ImpactProbe(probeSession, 'users', oid);
      await probe.start();
      // start() measured the baseline under load: nothing to ask yet.
      expect(probe.wantsBaselineRest()).toBe(false);
      // Back-to-back batches (a high duty cycle): no rest long enough to count, for longer than the baseline keeps.
      probe.markBatch(true);
      await sleep(5300);
      expect(probe.wantsBaselineRest()).toBe(true);
      // The rest the pacer then takes renews the baseline.
      probe.markBatch(false);
      await sleep(400);
      expect(probe.wantsBaselineRest()).toBe(false);
    } finally {
      stopping = true;
      await loop;
      await probe?.stop();
      await Promise.all([db.close(), load.close()]);
      await created.drop();
    }
  });
});
