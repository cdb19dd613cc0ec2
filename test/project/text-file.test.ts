import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { loadAll } from '../../src/migration/loader.js';
import { decodeUtf8, invalidUtf8Offset, UnreadableFile } from '../../src/project/text-file.js';
import { forEachDriver } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('no database in loader tests')) };
const fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A Latin-1 "café" inside an otherwise ASCII script: byte 0xe9 is not UTF-8. */
const LATIN1 = Buffer.concat([Buffer.from("CREATE TABLE t (s text);\nINSERT INTO t VALUES ('caf"), Buffer.from([0xe9]), Buffer.from("');\n")]);

describe('UTF-8 decoding of project files', () => {
  it('finds the first invalid byte exactly where a fatal TextDecoder fails, for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.string({ unit: 'binary', maxLength: 16 }), (noise, text) => {
        const bytes = Buffer.concat([Buffer.from(text, 'utf8'), noise]);
        const at = invalidUtf8Offset(bytes);
        let valid = true;
        try {
          fatal.decode(bytes);
        } catch {
          valid = false;
        }
        expect(at === -1).toBe(valid);
        if (at >= 0) {
          expect(() => fatal.decode(bytes.subarray(0, at))).not.toThrow();
          expect(() => fatal.decode(bytes.subarray(0, at + 4))).toThrow();
        }
      }),
      { numRuns: 500 },
    );
  });

  it('names the line and byte offset of the first invalid byte, and drops a byte-order mark', () => {
    const err = (() => {
      try {
        decodeUtf8('x.sql', Buffer.concat([BOM, LATIN1]));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(UnreadableFile);
    expect((err as UnreadableFile).message).toBe(
      `x.sql: not valid UTF-8 at line 2, byte offset ${3 + LATIN1.indexOf(0xe9)} (byte 0xe9); save the file as UTF-8`,
    );
    expect(decodeUtf8('y.sql', Buffer.concat([BOM, Buffer.from('SELECT 1;')]))).toBe('SELECT 1;');
    // Overlong forms and UTF-16 surrogates are refused too, not only stray bytes.
    expect(invalidUtf8Offset(Buffer.from([0x41, 0xc0, 0x80]))).toBe(1);
    expect(invalidUtf8Offset(Buffer.from([0x41, 0x42, 0xed, 0xa0, 0x80]))).toBe(2);
    expect(invalidUtf8Offset(Buffer.from('ünïcödé ✓ 𝄞', 'utf8'))).toBe(-1);
  });

  it('the loader refuses an SQL file that is not UTF-8, with its file, line and byte, beside the other problems', async () => {
    const p = createProject(noDb);
    const id = p.migration('0001_a', [{ id: 'one', up: 'SELECT 1;', down: 'SELECT 1;' }]);
    writeFileSync(p.file(id, 'one.up.sql'), LATIN1);
    p.migration('0002_b', [{ id: 'two', up: 'SELECT 1;' }]);
    const err = await loadAll(join(p.root, 'migrations')).catch((e: unknown) => e);
    expect(isFerryError(err, 'E_MANIFEST')).toBe(true);
    const problems = (err as { details: { problems: string[] } }).details.problems;
    expect(problems).toEqual([
      `${p.file(id, 'one.up.sql')}: not valid UTF-8 at line 2, byte offset ${LATIN1.indexOf(0xe9)} (byte 0xe9); save the file as UTF-8`,
      expect.stringContaining('0002_b/migration.json: steps.0.rollback: file two.down.sql does not exist'),
    ]);
  });

  it('a byte-order mark in migration.json and in SQL files is accepted and never reaches the parser', async () => {
    const p = createProject(noDb);
    const id = p.migration('0001_a', [{ id: 'one', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;' }]);
    for (const f of ['migration.json', 'one.up.sql', 'one.down.sql']) writeFileSync(p.file(id, f), Buffer.concat([BOM, readFileSync(p.file(id, f))]));
    const [m] = await loadAll(join(p.root, 'migrations'));
    expect(m?.manifest.title).toBe('0001_a');
    expect(m?.steps[0]?.forward?.statements.map((s) => s.text)).toEqual(['CREATE TABLE a (x int)']);
    expect(m?.steps[0]?.forward?.text.startsWith('\uFEFF')).toBe(false);
  });
});

forEachDriver('encodings on the command line', (suite) => {
  it('ferry up refuses an SQL file that is not UTF-8 instead of applying U+FFFD, and changes nothing (exit 4)', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const id = p.migration('0001_latin1', [{ id: 'seed', up: 'SELECT 1;', down: 'DROP TABLE t;' }]);
    writeFileSync(p.file(id, 'seed.up.sql'), LATIN1);
    const before = await fingerprint(target);
    const r = await runFerryJson<{ error: { code: string; message: string } }>(p.root, ['up']);
    expect(r.code).toBe(4);
    expect(r.json.error.code).toBe('E_MANIFEST');
    expect(r.json.error.message).toContain(`${p.file(id, 'seed.up.sql')}: not valid UTF-8 at line 2, byte offset ${LATIN1.indexOf(0xe9)} (byte 0xe9)`);
    expect(await fingerprint(target)).toBe(before);
  });

  it('a byte-order mark in ferry.config.json, migration.json and SQL files is accepted: ferry up applies the migration', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const id = p.migration('0001_bom', [{ id: 'create', up: "CREATE TABLE t (s text);\nINSERT INTO t VALUES ('café');", down: 'DROP TABLE t;' }]);
    for (const f of [join(p.root, 'ferry.config.json'), p.file(id, 'migration.json'), p.file(id, 'create.up.sql'), p.file(id, 'create.down.sql')])
      writeFileSync(f, Buffer.concat([BOM, readFileSync(f)]));
    const r = await runFerry(p.root, ['up']);
    expect(r.code, r.stderr).toBe(0);
    const db = await target.open();
    try {
      expect((await db.query('SELECT s FROM t')).rows).toEqual([{ s: 'café' }]);
    } finally {
      await db.close();
    }
  });

  it('a ferry.config.json that is not UTF-8 is a configuration error with line and byte (exit 3)', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    const config = join(p.root, 'ferry.config.json');
    const text = readFileSync(config, 'utf8').replace('"test"', '"t\u00e9st"');
    writeFileSync(config, Buffer.from(text, 'latin1'));
    const r = await runFerry(p.root, ['status']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('[E_CONFIG]');
    expect(r.stderr).toMatch(new RegExp(`${config}: not valid UTF-8 at line 2, byte offset \\d+ \\(byte 0xe9\\)`));
  });
});
