import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { isFerryError } from '../../src/errors.js';
import { up } from '../../src/workflow/apply.js';
import { cleanupTargets, listBackups, restoreBackup, takeBackup } from '../../src/workflow/backup.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { createProject } from '../helpers/project.js';

/** An independent checksum of a table: every row as text, sorted, hashed. */
async function fingerprint(db: Database): Promise<string> {
  const { rows } = await db.query<{ h: string }>(`SELECT md5(string_agg(x::text, E'\\n' ORDER BY x::text)) AS h FROM people x`);
  return rows[0]?.h ?? '';
}

/** The identity column carries on after the highest restored id. */
async function nextId(db: Database): Promise<number> {
  const { rows } = await db.query<{ id: number }>(`INSERT INTO people (name) VALUES ('probe') RETURNING id::int AS id`);
  await db.query(`DELETE FROM people WHERE name = 'probe'`);
  return rows[0]?.id ?? 0;
}

forEachDriver('backup and restore', (suite) => {
  it('backup → drop → restore gives identical data, checked by checksum', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_people', [
      {
        id: 'create-people',
        up: `CREATE TABLE people (
                 id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                 name text NOT NULL CHECK (name <> ''),
                 note text,
                 prefs jsonb NOT NULL DEFAULT '{}',
                 score numeric(10, 3),
                 born timestamptz,
                 tags text[],
                 photo bytea,
                 upper_name text GENERATED ALWAYS AS (upper(name)) STORED
               );
               CREATE INDEX people_name ON people (name);
               INSERT INTO people (name, note, prefs, score, born, tags, photo)
               SELECT 'Person ' || g, CASE WHEN g % 7 = 0 THEN NULL ELSE E'tab\\there, line\\nbreak, back\\\\slash ' || g END,
                      jsonb_build_object('n', g, 's', 'x"y'), g * 1.125, timestamptz '2024-01-01 00:00+00' + g * interval '1 hour',
                      ARRAY['a', 'b c', NULL], decode(md5(g::text), 'hex')
                 FROM generate_series(1, 1500) g;
               INSERT INTO people (name, prefs) VALUES ('Zoë Brontë', '{"emoji": "🚢"}');`,
        down: 'DROP TABLE people;',
      },
    ]);
    p.migration('0002_drop_people', [{ id: 'drop', up: 'DROP TABLE people;', down: 'SELECT 1;' }], {
      steps: [{ id: 'drop', phase: 'contract', transaction: true }],
    });
    const ms = await migrationsOf(p);
    const drop = ms.find((m) => m.id === '0002_drop_people');
    if (!drop) throw new Error('no migration');
    expect(cleanupTargets(drop)).toEqual(['people']);
    const db = await target.open();
    try {
      await up(db, ms, testRun);
      const before = await fingerprint(db);
      const dir = mkdtempSync(join(tmpdir(), 'ferry-backups-'));
      const backup = await takeBackup(db, drop, { dir, actor: 'test', ...(target.url ? { access: { url: target.url } } : {}) });
      expect(backup.method).toBe(target.kind === 'server' ? 'pg_dump' : 'copy');
      expect(backup.objects).toEqual([expect.objectContaining({ table: 'people', rows: 1501 })]);
      expect((await listBackups(db, drop.id)).map((b) => b.id)).toEqual([backup.id]);

      let refused = '';
      await restoreBackup(db, backup.id, { actor: 'test', replace: false }).catch((err) => {
        refused = isFerryError(err) ? err.code : String(err);
      });
      expect(refused).toBe('E_GATE');

      await db.exec('DROP TABLE people');
      const restored = await restoreBackup(db, backup.id, { actor: 'test', replace: false });
      expect(restored.tables).toEqual([{ table: 'people', rows: 1501, md5: backup.objects[0]?.md5, replaced: false }]);
      expect(await fingerprint(db)).toEqual(before);
      expect(await nextId(db)).toBeGreaterThan(1501);
      const generated = await db.query(`SELECT upper_name FROM people WHERE name = 'Zoë Brontë'`);
      expect(generated.rows).toEqual([{ upper_name: 'ZOË BRONTË' }]);

      // --replace drops what is there now and puts the backed-up copy back.
      await db.exec(`DELETE FROM people WHERE id < 100`);
      await restoreBackup(db, backup.id, { actor: 'test', replace: true });
      expect(await fingerprint(db)).toEqual(before);
    } finally {
      await db.close();
    }
  });
});
