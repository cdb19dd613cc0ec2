import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * A CLI command parses its arguments, calls one library function and renders the
 * result: the lock, the transaction and the SQL live in src/workflow. The
 * dependency rules (.dependency-cruiser.cjs) keep src/db, src/state, the lock key
 * and `transition` out of src/cli/commands and src/server; this test catches what an import rule
 * cannot see, a lock or a query sent through the `Database` a command's context opened.
 */

const COMMANDS = resolve(import.meta.dirname, '../../src/cli/commands');
const SERVER = resolve(import.meta.dirname, '../../src/server');

/** What only a library action does (an HTTP request's `c.req.query(…)` reads its query string, not the database). */
const FORBIDDEN = [/withAdvisoryLock/, /\.transaction\(/, /(?<!\breq)\.query\(/, /MIGRATION_LOCK_KEY/];

/** Every .ts file under `dir`, as paths relative to it. */
const tsFiles = (dir: string): string[] => (readdirSync(dir, { recursive: true }) as string[]).filter((f) => f.endsWith('.ts'));

for (const [face, dir] of [
  ['the CLI commands', COMMANDS],
  ['ferry serve', SERVER],
] as const) {
  describe(`${face} are a thin face`, () => {
    const files = tsFiles(dir);

    it('finds the files', () => {
      expect(files.length).toBeGreaterThan(5);
    });

    for (const file of files) {
      it(`${file} takes no lock, opens no transaction and sends no SQL`, () => {
        const text = readFileSync(join(dir, file), 'utf8');
        expect(FORBIDDEN.filter((word) => word.test(text)).map(String)).toEqual([]);
      });
    }
  });
}
