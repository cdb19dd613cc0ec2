import { readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { loadAll } from '../../src/migration/loader.js';
import { readEvents, readState } from '../../src/state/store.js';
import { guardFacts } from '../../src/workflow/recorded.js';
import { stepsToRollBack } from '../../src/workflow/rollback.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { migrationsOf } from '../helpers/engine.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson, type TestProject } from '../helpers/project.js';

const NO_STACK = /\n\s+at .+:\d+:\d+/;

/** Two migrations, both applied: `0001_base` creates `audit` and `t`, `0002_add` adds column `b` (with a point of no return). */
async function twoApplied(target: TestTarget, extra: Record<string, unknown> = {}): Promise<TestProject> {
  const p = createProject(target);
  p.migration('0001_base', [{ id: 'create', up: 'CREATE TABLE audit (what text); CREATE TABLE t (a int);', down: 'DROP TABLE t; DROP TABLE audit;' }]);
  p.migration(
    '0002_add',
    [
      { id: 'add-b', up: 'ALTER TABLE t ADD COLUMN b int;', down: 'ALTER TABLE t DROP COLUMN b;', verify: 'SELECT true' },
      { id: 'add-c', up: 'ALTER TABLE t ADD COLUMN c int;', down: 'ALTER TABLE t DROP COLUMN c;' },
    ],
    { pointOfNoReturn: 'add-b', ...extra },
  );
  const r = await runFerry(p.root, ['up']);
  expect(r.code, r.stderr).toBe(0);
  return p;
}

function editJson(p: TestProject, id: string, change: (m: Record<string, unknown>) => void): void {
  const file = p.file(id, 'migration.json');
  const m = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  change(m);
  writeFileSync(file, JSON.stringify(m, null, 2));
}

forEachDriver('drift', (suite) => {
  it('a deleted folder of the latest applied migration: down and up refuse (exit 8), name it, and roll nothing back', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    const before = await fingerprint(target);
    renameSync(join(p.root, 'migrations', '0002_add'), join(p.root, 'elsewhere'));
    for (const args of [['down'], ['up'], ['down', '0001_base'], ['up', '0001_base']]) {
      const r = await runFerry(p.root, args);
      expect(r.code, args.join(' ')).toBe(8);
      expect(r.stderr).toContain('0002_add has 2 applied step(s) but its folder 0002_add is missing');
      expect(r.stderr).toContain('ferry forget 0002_add --reason');
      expect(r.stderr).toContain('git checkout');
      expect(r.stderr).not.toMatch(NO_STACK);
    }
    const j = await runFerryJson<{ error: { code: string } }>(p.root, ['down']);
    expect(j.json.error.code).toBe('E_DRIFT');
    expect(await fingerprint(target)).toBe(before);
  });

  it('an empty migrations folder, or none at all, with applied migrations: up and down report drift (exit 8)', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    const before = await fingerprint(target);
    rmSync(join(p.root, 'migrations'), { recursive: true });
    for (const args of [['up'], ['down'], ['status']]) expect((await runFerry(p.root, args)).code, `no folder: ${args}`).toBe(8);
    writeFileSync(join(p.root, 'ferry.config.json'), readFileSync(join(p.root, 'ferry.config.json'), 'utf8'));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(p.root, 'migrations'));
    for (const args of [['up'], ['down'], ['status']]) {
      const r = await runFerry(p.root, args);
      expect(r.code, `empty folder: ${args}`).toBe(8);
      expect(r.stderr).toContain('0001_base');
      expect(r.stderr).toContain('0002_add');
    }
    expect(await fingerprint(target)).toBe(before);
  });

  it('ferry forget removes a missing migration on purpose, logged with its steps and reason; then the rest runs again', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    rmSync(join(p.root, 'migrations', '0002_add'), { recursive: true });
    expect((await runFerry(p.root, ['forget', '0002_add'])).code).toBe(2);
    const here = await runFerry(p.root, ['forget', '0001_base', '--reason', 'x']);
    expect(here.code).toBe(9);
    expect(here.stderr).toContain('has its folder');
    const r = await runFerryJson<{ migrationId: string; steps: string[] }>(p.root, ['forget', 'add', '--reason', 'abandoned experiment', '--by', 'Ada']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.json).toMatchObject({ migrationId: '0002_add', steps: ['add-b', 'add-c'] });
    expect((await runFerry(p.root, ['status'])).code).toBe(0);
    const db = await target.open();
    try {
      const events = await readEvents(db, '0002_add');
      expect(events.at(-1)).toMatchObject({ kind: 'forget', actor: 'Ada', reason: 'abandoned experiment', fromPhase: 'expanded' });
      expect((events.at(-1)?.details as { steps: { id: string }[] } | undefined)?.steps.map((s) => s.id)).toEqual(['add-b', 'add-c']);
      // Its changes stay: forgetting rolls nothing back.
      expect((await db.query(`SELECT count(*)::int AS n FROM pg_attribute WHERE attrelid = 't'::regclass AND attname IN ('b', 'c')`)).rows[0]?.n).toBe(2);
    } finally {
      await db.close();
    }
    expect((await runFerry(p.root, ['down'])).code).toBe(0);
  });

  it('a folder archived by another environment is not missing: status and up go on, down without an id refuses to skip it', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    // What cleanup in another environment leaves: the folder moved to migrations/archive/YYYYMM/.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(p.root, 'migrations', 'archive', '202612'), { recursive: true });
    renameSync(join(p.root, 'migrations', '0002_add'), join(p.root, 'migrations', 'archive', '202612', '0002_add'));
    expect((await runFerry(p.root, ['status'])).code).toBe(0);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const before = await fingerprint(target);
    const down = await runFerry(p.root, ['down']);
    expect(down.code).toBe(9);
    expect(down.stderr).toContain('the latest applied migration is 0002_add (archived), not 0001_base');
    expect(down.stderr).toContain('ferry down 0001_base');
    expect(await fingerprint(target)).toBe(before);
  });

  it('an edited pointOfNoReturn is drift that cannot be acknowledged; down refuses and rolls nothing back', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    const before = await fingerprint(target);
    editJson(p, '0002_add', (m) => {
      m.pointOfNoReturn = null;
    });
    const status = await runFerryJson<{ drift: { kind: string; acknowledgeable: boolean }[] }>(p.root, ['status']);
    expect(status.code).toBe(8);
    expect(status.json.drift).toEqual([expect.objectContaining({ kind: 'point-of-no-return', acknowledgeable: false })]);
    const down = await runFerry(p.root, ['down', '0002_add']);
    expect(down.code).toBe(8);
    expect(down.stderr).toContain('pointOfNoReturn was changed after the migration was applied (recorded "add-b", now null)');
    const ack = await runFerry(p.root, ['acknowledge', '0002_add', '--reason', 'I know better']);
    expect(ack.code).toBe(8);
    expect(ack.stderr).toContain('cannot be acknowledged');
    expect(await fingerprint(target)).toBe(before);
  });

  it('down obeys the point of no return and the irreversible steps recorded at apply time, not the files', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    editJson(p, '0002_add', (m) => {
      m.pointOfNoReturn = null;
    });
    const [, m] = await migrationsOf(p);
    const db = await target.open();
    try {
      const state = await readState(db);
      const applied = state.applied.get('0002_add') ?? [];
      const facts = guardFacts(m as NonNullable<typeof m>, state.migrations.get('0002_add'), applied);
      expect(facts.pointOfNoReturn).toBe('add-b');
      const err = (() => {
        try {
          return stepsToRollBack(m as NonNullable<typeof m>, new Set(applied.map((a) => a.stepId)), undefined, facts);
        } catch (e) {
          return e;
        }
      })();
      expect(isFerryError(err, 'E_POINT_OF_NO_RETURN')).toBe(true);
      const irreversible = { ...facts, pointOfNoReturn: null, irreversible: new Set(['add-c']) };
      expect(() => stepsToRollBack(m as NonNullable<typeof m>, new Set(applied.map((a) => a.stepId)), undefined, irreversible)).toThrow(/irreversible/);
      const contract = { ...facts, pointOfNoReturn: null, contract: new Set(['add-c']) };
      expect(() => stepsToRollBack(m as NonNullable<typeof m>, new Set(applied.map((a) => a.stepId)), undefined, contract)).toThrow(/contract step/);
    } finally {
      await db.close();
    }
  });

  it('an edited rollback is drift until acknowledged with a reason; down then runs the acknowledged rollback', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    writeFileSync(p.file('0002_add', 'add-c.down.sql'), "INSERT INTO audit VALUES ('new rollback of add-c');\nALTER TABLE t DROP COLUMN c;");
    const status = await runFerryJson<{ drift: { kind: string; stepId: string; acknowledgeable: boolean }[] }>(p.root, ['status']);
    expect(status.code).toBe(8);
    expect(status.json.drift).toEqual([expect.objectContaining({ kind: 'rollback-edited', stepId: 'add-c', acknowledgeable: true })]);
    const refused = await runFerry(p.root, ['down', '0002_add', '--to', 'add-b']);
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain('ferry acknowledge 0002_add --reason');
    expect((await runFerry(p.root, ['acknowledge', '0002_add'])).code).toBe(2);
    const ack = await runFerryJson<{ acknowledged: { kind: string }[] }>(p.root, ['acknowledge', '0002_add', '--reason', 'audit the rollback (review #7)']);
    expect(ack.code, ack.stderr).toBe(0);
    expect(ack.json.acknowledged.map((d) => d.kind)).toEqual(['rollback-edited']);
    expect((await runFerry(p.root, ['status'])).code).toBe(0);
    const down = await runFerry(p.root, ['down', '0002_add', '--to', 'add-b']);
    expect(down.code, down.stderr).toBe(0);
    const db = await target.open();
    try {
      expect((await db.query('SELECT what FROM audit')).rows).toEqual([{ what: 'new rollback of add-c' }]);
      const events = await readEvents(db, '0002_add');
      const event = events.find((e) => e.kind === 'acknowledge');
      expect(event?.reason).toBe('audit the rollback (review #7)');
      const change = (event?.details as { changes: { before: { rollback: { text: string } }; after: { rollback: { text: string } } }[] } | undefined)
        ?.changes[0];
      expect(change?.before.rollback.text).toContain('ALTER TABLE t DROP COLUMN c');
      expect(change?.after.rollback.text).toContain('new rollback of add-c');
    } finally {
      await db.close();
    }
  });

  it('edits of verify SQL and of manifest fields are acknowledgeable; forward edits are not and change nothing', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    writeFileSync(p.file('0002_add', 'add-b.verify.sql'), 'SELECT count(*) >= 0 FROM t');
    editJson(p, '0002_add', (m) => {
      m.summary = 'adds b and c to t, reviewed';
    });
    const s = await runFerryJson<{ drift: { kind: string }[] }>(p.root, ['status']);
    expect(s.json.drift.map((d) => d.kind).sort()).toEqual(['manifest-edited', 'verify-edited']);
    writeFileSync(p.file('0002_add', 'add-c.up.sql'), 'ALTER TABLE t ADD COLUMN c bigint;');
    const before = await fingerprint(target);
    const refused = await runFerry(p.root, ['acknowledge', '0002_add', '--reason', 'x']);
    expect(refused.code).toBe(8);
    expect(refused.stderr).toContain('step add-c was edited after it was applied');
    expect(await fingerprint(target)).toBe(before);
    writeFileSync(p.file('0002_add', 'add-c.up.sql'), 'ALTER TABLE t ADD COLUMN c int;');
    const ok = await runFerryJson<{ acknowledged: { kind: string }[] }>(p.root, ['acknowledge', 'add', '--reason', 'verify is looser, summary reworded']);
    expect(ok.json.acknowledged.map((d) => d.kind).sort()).toEqual(['manifest-edited', 'verify-edited']);
    expect((await runFerry(p.root, ['status'])).code).toBe(0);
  });

  it('an edited operation is drift: the SQL it compiles to is part of the definition', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_t', [{ id: 'create', up: 'CREATE TABLE people (id int PRIMARY KEY, full_name text);', down: 'DROP TABLE people;' }]);
    const dir = join(p.root, 'migrations', '0002_op');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir);
    const manifest = {
      title: 'add nickname',
      summary: 'op step',
      type: 'schema-additive',
      strategy: 'big-bang',
      steps: [{ id: 'nick', kind: 'op', op: 'add-column', table: 'people', column: 'nickname', type: 'text' }],
    };
    writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest));
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    writeFileSync(join(dir, 'migration.json'), JSON.stringify({ ...manifest, steps: [{ ...manifest.steps[0], type: 'varchar(20)' }] }));
    const s = await runFerryJson<{ drift: { kind: string; stepId: string }[] }>(p.root, ['status']);
    expect(s.code).toBe(8);
    expect(s.json.drift).toEqual([expect.objectContaining({ kind: 'edited', stepId: expect.stringMatching(/^nick\./) })]);
  });

  it('steps applied before ferry recorded definitions are still checked by their forward checksum', async () => {
    const target = await suite.fresh();
    const p = await twoApplied(target);
    const db = await target.open();
    try {
      await db.exec(
        'UPDATE ferry.applied_steps SET definition = NULL, rollback = NULL, irreversible = NULL, phase = NULL; UPDATE ferry.migrations SET definition = NULL',
      );
    } finally {
      await db.close();
    }
    expect((await runFerry(p.root, ['status'])).code).toBe(0);
    writeFileSync(p.file('0002_add', 'add-c.up.sql'), 'ALTER TABLE t ADD COLUMN c bigint;');
    const s = await runFerryJson<{ drift: { kind: string }[] }>(p.root, ['status']);
    expect(s.json.drift.map((d) => d.kind)).toEqual(['edited']);
  });
});

describe('migration definition', () => {
  it('changes with every file and every manifest field, not with formatting or line endings', async () => {
    const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('no database here')) };
    const p = createProject(noDb);
    const id = p.migration('0001_a', [{ id: 'one', up: 'CREATE TABLE a (x int);\n', down: 'DROP TABLE a;', verify: 'SELECT true' }], { flag: 'a-flag' });
    const load = async () => (await loadAll(join(p.root, 'migrations')))[0] as NonNullable<Awaited<ReturnType<typeof loadAll>>[0]>;
    const first = await load();
    const manifestFile = p.file(id, 'migration.json');
    const original = readFileSync(manifestFile, 'utf8');
    writeFileSync(manifestFile, JSON.stringify(JSON.parse(original)));
    writeFileSync(p.file(id, 'one.up.sql'), 'CREATE TABLE a (x int);\r\n');
    expect((await load()).checksum).toBe(first.checksum);
    const edits: [string, string, string][] = [
      ['one.up.sql', 'CREATE TABLE a (x int);', 'CREATE TABLE a (x bigint);'],
      ['one.down.sql', 'DROP TABLE a;', 'DROP TABLE IF EXISTS a;'],
      ['one.verify.sql', 'SELECT true', 'SELECT 1 = 1'],
      ['migration.json', '"a-flag"', '"b-flag"'],
      ['migration.json', '"pointOfNoReturn": null', '"pointOfNoReturn": "one"'],
      ['migration.json', '"transaction": true', '"transaction": false'],
    ];
    const seen = new Set([first.checksum]);
    for (const [file, from, to] of edits) {
      const path = p.file(id, file);
      const text = file === 'migration.json' ? original : readFileSync(path, 'utf8');
      expect(text, file).toContain(from);
      writeFileSync(path, text.replace(from, to));
      const m = await load();
      expect(seen.has(m.checksum), `${file}: ${to}`).toBe(false);
      seen.add(m.checksum);
      writeFileSync(path, text);
    }
  });
});
