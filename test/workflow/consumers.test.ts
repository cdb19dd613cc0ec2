import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  advanceRolloutStage,
  apiConsumers,
  appShape,
  backfill,
  cleanup,
  type Database,
  findMigration,
  loadWorkspace,
  openWorkspace,
  readEvents,
  readState,
  setRolloutPercentage,
  up,
  verify,
} from '../../src/index.js';
import { stateExists } from '../../src/state/store.js';
import { cleanupGates } from '../../src/workflow/cleanup.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { forEachDriver } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { refusalCode } from '../helpers/refusal.js';

const DAY = 86_400_000;

/** The split of full_name, with an API section: users v1 (name, email) → v2 (firstName/lastName, emailAddress). */
function apiProject(target: Parameters<typeof createProject>[0]) {
  const p = createProject(target);
  splitProject(p);
  const file = join(p.root, 'migrations', SPLIT, 'migration.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8'));
  manifest.api = {
    name: 'users',
    versions: [{ version: 'v1' }, { version: 'v2' }],
    consumerWindow: '7d',
    allow: [{ consumer: 'partner-a', version: 'v1', until: '2099-06-01' }],
  };
  writeFileSync(file, JSON.stringify(manifest, null, 2));
  return p;
}

/** What the compat middleware writes: calls per API version and consumer. */
async function calls(db: Database, version: string, consumer: string, n: number, lastSeen: Date): Promise<void> {
  await db.query(
    `INSERT INTO ferry.api_consumers (api, version, consumer, calls, first_seen, last_seen) VALUES ('users', $1, $2, $3, $4, $4)
     ON CONFLICT (api, version, consumer) DO UPDATE SET calls = EXCLUDED.calls, last_seen = EXCLUDED.last_seen`,
    [version, consumer, n, lastSeen],
  );
}

forEachDriver('API consumers and the cleanup gate', (suite) => {
  it('lists who calls the old version; cleanup is refused while one did within the window, allowed with --force --reason', async () => {
    const target = await suite.fresh();
    const p = apiProject(target);
    const ws = await loadWorkspace({ root: p.root, actor: 'consumers-test' });
    const run = { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: false };
    const split = await findMigration(ws, SPLIT);
    const users = await findMigration(ws, '0001_users');
    const db = await openWorkspace(ws, 'consumers test');
    try {
      // Read-only: no state yet means no consumers, and no state created. A manifest without an API is a usage error.
      expect((await apiConsumers(db, split)).consumers).toEqual([]);
      expect(await stateExists(db)).toBe(false);
      expect(await refusalCode(apiConsumers(db, users))).toBe('E_USAGE');
      // The split publishes both shapes of users as views: each application version reads its own first.
      expect(appShape(split)).toEqual({ flag: 'split-names', old: ['ferry_v1_users'], new: ['ferry_v2_users'], base: ['public'] });
      expect(appShape(users)).toBeNull();

      await up(db, ws.migrations, { ...run, only: users.id });
      await backfill(db, ws.migrations, split, run);
      await up(db, ws.migrations, run);
      const now = new Date();
      await calls(db, 'v1', 'partner-a', 40, new Date(now.getTime() - 2 * DAY));
      await calls(db, 'v1', 'legacy-app', 3, new Date(now.getTime() - 20 * DAY));
      await calls(db, 'v2', 'web', 900, new Date(now.getTime() - 60_000));

      const listed = await apiConsumers(db, split, { now });
      expect(listed).toMatchObject({ api: 'users', current: 'v2', oldVersions: ['v1'], releasedAt: null, windowMs: 7 * DAY });
      expect(listed.consumers.map((c) => [c.consumer, c.version, c.calls, c.recent])).toEqual([
        ['partner-a', 'v1', 40, true],
        ['legacy-app', 'v1', 3, false],
      ]);
      // Before the flag reached 100 % the offsets have no date; partner-a's allow-list date is a date.
      expect(listed.consumers[0]?.timeline).toMatchObject({ announce: null, disable: new Date('2099-06-01') });
      expect((await apiConsumers(db, split, { now, all: true })).consumers.map((c) => c.consumer)).toEqual(['web', 'partner-a', 'legacy-app']);

      // Through the rollout: 100 % is T+0 of the timeline.
      await setRolloutPercentage(db, split, 50, { actor: ws.actor, lockWaitMs: ws.lockWaitMs });
      await advanceRolloutStage(db, split, { actor: ws.actor, lockWaitMs: ws.lockWaitMs, now: { reason: 'test' } });
      await new Promise((r) => setTimeout(r, 1100));
      await advanceRolloutStage(db, split, { actor: ws.actor, lockWaitMs: ws.lockWaitMs });
      const released = await apiConsumers(db, split, { now: new Date(Date.now() + 31 * DAY) });
      expect(released.releasedAt).toBeInstanceOf(Date);
      const legacy = released.consumers.find((c) => c.consumer === 'legacy-app');
      expect(legacy?.timeline?.log?.getTime()).toBe((released.releasedAt as Date).getTime() + 30 * DAY);
      expect(legacy?.state).toBe('logging');
      expect(released.consumers.find((c) => c.consumer === 'partner-a')?.state).toBe('logging');

      const [verified] = await verify(db, [split], {
        actor: ws.actor,
        lockWaitMs: ws.lockWaitMs,
        project: ws.project,
        conn: ws.conn,
        checks: { mode: 'full' },
      });
      expect(verified?.ok).toBe(true);

      // After the 30-day deprecation period, partner-a called v1 a day ago: refused, naming it, nothing changed.
      const later = new Date(Date.now() + 31 * DAY);
      await calls(db, 'v1', 'partner-a', 41, new Date(later.getTime() - DAY));
      const backupDir = join(p.root, '.ferry', 'backups');
      const opts = { run: ws.run, lockWaitMs: ws.lockWaitMs, backupDir, migrationsDir: ws.project.migrationsDir, now: later };
      const refused = await cleanup(db, split, opts).catch((e: Error & { code?: string }) => e);
      expect(refused).toMatchObject({ code: 'E_GATE' });
      expect((refused as Error).message).toContain('partner-a (v1, last seen');
      expect((refused as Error).message).not.toContain('legacy-app');
      expect((await readState(db)).migrations.get(split.id)?.phase).toBe('verified');
      expect(existsSync(join(ws.project.migrationsDir, SPLIT))).toBe(true);

      // Quiet for longer than the window: the gate passes.
      await calls(db, 'v1', 'partner-a', 41, new Date(later.getTime() - 8 * DAY));
      expect((await cleanupGates(db, split, { ...opts, run: ws.run })).oldApiCalls).toEqual([]);

      // Called again within the window: --force with a reason gets past, recorded with the consumer.
      await calls(db, 'v1', 'partner-a', 42, new Date(later.getTime() - DAY));
      const forced = await cleanup(db, split, { ...opts, force: { reason: 'partner-a signed off on the v1 shutdown' } });
      expect(forced.oldApiCalls.map((c) => c.consumer)).toEqual(['partner-a']);
      expect((await readState(db)).migrations.get(split.id)?.phase).toBe('archived');
      const event = (await readEvents(db, split.id)).find((e) => e.kind === 'cleanup-forced');
      expect(event?.reason).toContain('while the old API still had traffic: partner-a (v1');
      expect(event?.reason).toContain('partner-a signed off on the v1 shutdown');
      expect(event?.details).toMatchObject({ oldApiCalls: [{ consumer: 'partner-a', version: 'v1', calls: 42 }] });
    } finally {
      await db.close();
    }
  });
});
