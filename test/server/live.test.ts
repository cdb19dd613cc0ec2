import { describe, expect, it } from 'vitest';
import { setFlag } from '../../src/index.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { emptyPgliteTarget, emptyServerTarget, withDb } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { serveProject } from '../helpers/serve.js';
import { openSse } from '../helpers/sse.js';

// Open pages learn of every change of ferry's state from /api/v1/stream: driven by NOTIFY on channel ferry_state
// and ferry_flags (state version 10) on a server, where other processes change the state; on PGlite the serving
// process makes every change itself, and a digest poll catches anything no notification announced.
// A change the digest poll found is published as topic `poll`; one a notification announced names what changed
// (`flags`), so the topics prove the path without timing it (tests never assert on wall time: under CI's load
// a notification can take over a second and still be the notification).

const FLAG = 'split-names';

describe('live updates (/api/v1/stream)', () => {
  it('on a server: a flag changed by another process reaches an open stream by its notification, not the digest poll', async () => {
    const target = await emptyServerTarget();
    if (!target) return console.warn('[ferry tests] skipped: no PostgreSQL server (outside CI only)');
    const p = createProject(target);
    splitProject(p);
    const s = await serveProject(p);
    const stream = await openSse(`${s.url}/api/v1/stream`);
    try {
      await stream.next('hello');
      // Another process: its own session, as `ferry flag set` in a terminal would be.
      const migrations = await s.ctx.migrations();
      await withDb(target, (db) => setFlag(db, migrations, FLAG, { enabled: true, percentage: 5 }, { actor: 'someone else', lockWaitMs: 5000 }));
      const change = await stream.next('change', 10_000);
      const topics = JSON.parse(change.data).topics;
      expect(topics).toContain('flags');
      expect(topics).not.toContain('poll');
    } finally {
      stream.close();
    }
  });

  it('on PGlite: a change made through the serving process reaches every open stream by its notification', async () => {
    const p = createProject(await emptyPgliteTarget());
    splitProject(p);
    const s = await serveProject(p);
    const a = await openSse(`${s.url}/api/v1/stream`);
    const b = await openSse(`${s.url}/api/v1/stream`);
    try {
      await a.next('hello');
      await b.next('hello');
      expect(s.ctx.hub.size).toBe(2);
      const migrations = await s.ctx.migrations();
      await s.ctx.withDb((db) => setFlag(db, migrations, FLAG, { enabled: false, percentage: 0 }, { actor: 'ada', lockWaitMs: 5000 }));
      const [ea, eb] = await Promise.all([a.next('change', 10_000), b.next('change', 10_000)]);
      for (const e of [ea, eb]) {
        expect(JSON.parse(e.data).topics).toContain('flags');
        expect(JSON.parse(e.data).topics).not.toContain('poll');
      }
      expect(migrations.some((m) => m.id === SPLIT)).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });
});
