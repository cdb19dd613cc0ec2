import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { parserReady, SqlSyntaxError, splitStatements } from '../../src/db/sql-script.js';

const text = fc.string({ unit: fc.constantFrom('a', 'é', '😀', ';', "'", '"', '$', ' ', '\n', '-', '*', '/', 'ß', '中'), maxLength: 20 });
const tag = fc.constantFrom('', 'x', 'body', 'a1');

/** Statements whose text is full of semicolons, quotes and newlines in places that do not end a statement. */
const statement = fc.oneof(
  text.map((s) => `SELECT '${s.replaceAll("'", "''")}'`),
  fc.tuple(tag, text).map(([t, s]) => `SELECT $${t}$${s.replaceAll('$', '')}$${t}$`),
  text.map((s) => `CREATE TABLE "${s.replaceAll('"', '""').replaceAll('\0', '') || 't'}" (a int)`),
  text.map((s) => `SELECT 1 /* ${s.replaceAll('*/', '').replaceAll('/*', '')} */`),
  fc.constant('SELECT 1\n  + 2'),
);

describe('splitStatements', () => {
  beforeAll(() => parserReady());

  it('cuts a script exactly where its statements end, whatever their strings hold', () => {
    fc.assert(
      fc.property(fc.array(statement, { minLength: 1, maxLength: 6 }), (stmts) => {
        const script = `${stmts.join(';\n')};\n`;
        const split = splitStatements(script);
        expect(split.map((s) => s.text)).toEqual(stmts);
        let line = 1;
        stmts.forEach((s, i) => {
          expect(split[i]?.line).toBe(line);
          line += s.split('\n').length;
        });
      }),
      { numRuns: 300 },
    );
  });

  it('reports the line of a syntax error', () => {
    const err = (() => {
      try {
        splitStatements('SELECT 1;\n\nSELECT (;\n');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(SqlSyntaxError);
    expect((err as SqlSyntaxError).line).toBe(3);
  });

  it('reports the line of a syntax error after multi-byte and astral characters', () => {
    const sql = "SELECT 'é — 😀😀 中';\n-- ü\n\nSELECT (;\n";
    expect(() => splitStatements(sql)).toThrow(expect.objectContaining({ line: 4 }));
  });

  it('names each statement by its parse node, and a comment-only script has none', () => {
    expect(splitStatements('CREATE INDEX CONCURRENTLY i ON t (a); ALTER TABLE t ADD COLUMN b int').map((s) => s.node)).toEqual(['IndexStmt', 'AlterTableStmt']);
    expect(splitStatements('-- nothing here\n/* at all */')).toEqual([]);
  });
});
