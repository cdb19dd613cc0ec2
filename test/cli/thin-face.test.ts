import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * A CLI command parses its arguments, calls one library function and renders the
 * result: the lock, the transaction and the SQL live in src/workflow. The
 * dependency rules (.dependency-cruiser.cjs) keep src/db, src/state, the lock key
 * and `transition` out of src/cli/commands; this test catches what an import rule
 * cannot see, a lock or a query sent through the `Database` a command's context opened.
 */

const COMMANDS = resolve(import.meta.dirname, '../../src/cli/commands');

/** What only a library action does. */
const FORBIDDEN = ['withAdvisoryLock', '.transaction(', '.query(', 'MIGRATION_LOCK_KEY'];

describe('the CLI commands are a thin face', () => {
  const files = readdirSync(COMMANDS).filter((f) => f.endsWith('.ts'));

  it('finds the command files', () => {
    expect(files.length).toBeGreaterThan(5);
  });

  for (const file of files) {
    it(`${file} takes no lock, opens no transaction and sends no SQL`, () => {
      const text = readFileSync(join(COMMANDS, file), 'utf8');
      expect(FORBIDDEN.filter((word) => text.includes(word))).toEqual([]);
    });
  }
});
