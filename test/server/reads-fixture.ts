import { down, findMigration, loadWorkspace, openWorkspace, runRollout, setRolloutPercentage, up, verify } from '../../src/index.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import type { TestTarget } from '../helpers/databases.js';
import { createProject } from '../helpers/project.js';
import { serveProject, type TestServer } from '../helpers/serve.js';

// A project taken through the library before ferry serve starts on it (on PGlite the server then owns the
// database): users expanded; the split of full_name in canary at 50 %, its controller stopped after one
// judgement, one row corrupted behind its sync trigger (so its check fails on that key); notes rolled back
// to nothing; tags never applied; and one migration only in the archive (archived in another environment).

export { SPLIT };
export const USERS = '0001_users';
export const NOTES = '0003_notes';
export const TAGS = '0004_tags';
export const OLD = '0000_old_flag';
/** Who took the project through its phases, as the event log shows. */
export const FIXTURE_ACTOR = 'reads-test';

/** The project above on `target`, served by a test server (closed after the file). */
export async function servedProject(target: TestTarget): Promise<TestServer> {
  const p = createProject(target);
  splitProject(p);
  p.migration(NOTES, [{ id: 'create-notes', up: 'CREATE TABLE notes (id bigint PRIMARY KEY, body text);', down: 'DROP TABLE notes;' }]);
  p.migration(TAGS, [{ id: 'create-tags', up: 'CREATE TABLE tags (id bigint PRIMARY KEY);', down: 'DROP TABLE tags;' }]);
  p.migration(`archive/202601/${OLD}`, [{ id: 'drop-old', up: 'SELECT 1;', down: 'SELECT 1;' }], { title: 'an old flag dropped' });
  const ws = await loadWorkspace({ root: p.root, actor: FIXTURE_ACTOR });
  const run = { ...ws.run, lockWaitMs: ws.lockWaitMs, requireApproval: false };
  const split = await findMigration(ws, SPLIT);
  const db = await openWorkspace(ws, 'reads test');
  try {
    for (const only of [USERS, SPLIT, NOTES]) await up(db, ws.migrations, { ...run, only });
    await down(db, ws.migrations, NOTES, run);
    await setRolloutPercentage(db, split, 50, { actor: FIXTURE_ACTOR, lockWaitMs: ws.lockWaitMs });
    // One judgement of the health controller (no traffic yet: no data), then stopped: the overview shows its last colour.
    const stop = new AbortController();
    await runRollout(db, ws.migrations, split, {
      actor: FIXTURE_ACTOR,
      lockWaitMs: ws.lockWaitMs,
      source: 'sdk',
      intervalMs: 50,
      signal: stop.signal,
      run,
      onEvent: (e) => {
        if (e.type === 'evaluation') stop.abort();
      },
    });
    // A wrong first name the sync trigger does not see: the checksum check finds exactly this key.
    await db.exec(`ALTER TABLE users DISABLE TRIGGER USER; UPDATE users SET first_name = 'Wrong' WHERE id = 7; ALTER TABLE users ENABLE TRIGGER USER;`);
    await verify(db, [split], { actor: FIXTURE_ACTOR, lockWaitMs: ws.lockWaitMs, project: ws.project, conn: ws.conn, checks: { mode: 'full' } });
  } finally {
    await db.close();
  }
  return serveProject(p);
}
