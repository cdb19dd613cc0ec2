import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { lintSql } from '../../src/lint/index.js';

/** An identifier as PostgreSQL writes it quoted: any characters but NUL, `"` doubled. */
const quote = (name: string) => `"${name.replaceAll('"', '""')}"`;

/** Identifiers with quotes, comment markers, unicode, spaces, directives …; short enough never to be truncated. */
const identifier = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
    fc.constantFrom('ferry-lint-disable all', '-- x', '/* y', 'x*/', "it's", 'a"b', 'naïve ☃', '$$', "E'\\", 'CONCURRENTLY', 'users'),
  )
  .filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 60);

/** Templates over a table, a column and a second name; each is linted as one standalone script. */
const TEMPLATES: ((t: string, c: string, k: string) => string)[] = [
  (t, c, k) => `CREATE INDEX ${k} ON ${t} (${c})`,
  (t, c, k) => `CREATE INDEX CONCURRENTLY ${k} ON ${t} (${c})`,
  (t, c) => `ALTER TABLE ${t} ADD COLUMN ${c} bigint NOT NULL`,
  (t, c) => `ALTER TABLE ${t} ADD COLUMN ${c} uuid DEFAULT gen_random_uuid()`,
  (t, c, k) => `ALTER TABLE ${t} RENAME COLUMN ${c} TO ${k}`,
  (t, _c, k) => `ALTER TABLE ${t} RENAME TO ${k}`,
  (t, c) => `ALTER TABLE ${t} ALTER COLUMN ${c} SET NOT NULL`,
  (t, c, k) =>
    `ALTER TABLE ${t} ADD CONSTRAINT ${k} CHECK (${c} IS NOT NULL) NOT VALID; ALTER TABLE ${t} VALIDATE CONSTRAINT ${k}; ALTER TABLE ${t} ALTER COLUMN ${c} SET NOT NULL`,
  (t, c, k) => `ALTER TABLE ${t} ADD CONSTRAINT ${k} FOREIGN KEY (${c}) REFERENCES ${k} (id)`,
  (t, c) => `UPDATE ${t} SET ${c} = 1`,
  (t, c, k) => `CREATE TABLE ${t} (${c} int); CREATE INDEX ${k} ON ${t} (${c}); ALTER TABLE ${t} DROP COLUMN ${c}`,
  (t, c, k) => `CREATE TABLE ${k}.${t} (${c} int); ALTER TABLE ${k}.${t} ADD COLUMN x int NOT NULL; DROP TABLE ${k}.${t}`,
];

/** The rule ids and lock modes of a script, per statement: everything that must not depend on the names. */
async function outcome(sql: string) {
  const r = await lintSql(`SET lock_timeout = '1s'; ${sql};`);
  return {
    rules: r.statements.map((s) => s.findings.map((f) => `${f.rule}:${f.status}`)),
    locks: r.statements.map((s) => s.locks.map((l) => l.mode)),
    rewrites: r.statements.map((s) => s.rewrites.length),
    type: r.classification.inferred,
  };
}

describe('names never change the outcome', () => {
  it('for any quoted identifiers, every template lints exactly as with plain names', async () => {
    const plain = await Promise.all(TEMPLATES.map((tpl) => outcome(tpl('t', 'c', 'k'))));
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: TEMPLATES.length - 1 }), identifier, identifier, identifier, async (i, t, c, k) => {
        fc.pre(t !== k && c !== 'x');
        const tpl = TEMPLATES[i] as (typeof TEMPLATES)[number];
        expect(await outcome(tpl(quote(t), quote(c), quote(k)))).toEqual(plain[i]);
      }),
      { numRuns: 300 },
    );
  });
});
