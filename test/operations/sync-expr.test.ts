import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { quoteIdent, quoteLiteral } from '../../src/db/quote.js';
import { parserReady } from '../../src/db/sql-script.js';
import { compileExpression } from '../../src/operations/sync-expr.js';

beforeAll(parserReady);

/** Column names a migration may use: plain, with quotes, spaces, upper case, unicode, SQL keywords. */
const columnName = fc.oneof(
  fc.constantFrom('full_name', 'amount', 'select', 'from', 'order', 'user', 'Ünïcode', 'naïve col', 'a"b', "o'clock", 'Mixed Case', 'x$1', 'r.x', '日本'),
  fc.string({ minLength: 1, maxLength: 12, unit: 'grapheme' }).filter((s) => !s.includes('\0') && Buffer.byteLength(s) <= 63),
);

/** One piece of an expression: a column reference in one of the ways it can be written, or a literal mentioning a column. */
type Piece = { ref: string; form: 'quoted' | 'alias' | 'bare' } | { literal: string };
const piece: fc.Arbitrary<Piece> = fc.oneof(
  fc.record({ ref: columnName, form: fc.constantFrom('quoted' as const, 'alias' as const) }),
  fc.record({ ref: fc.constantFrom('full_name', 'amount', 'a1', 'x_y$'), form: fc.constant('bare' as const) }),
  fc.record({ literal: columnName.map((c) => `${c} ${quoteIdent(c)} r.${c}`) }),
);

const written = (p: Piece) =>
  'literal' in p ? quoteLiteral(p.literal) : p.form === 'quoted' ? quoteIdent(p.ref) : p.form === 'alias' ? `r.${quoteIdent(p.ref)}` : p.ref;
const compiled = (p: Piece) => ('literal' in p ? quoteLiteral(p.literal) : `NEW.${quoteIdent(p.ref)}`);

describe('compileExpression', () => {
  it('replaces every column reference by NEW."column", however written, and leaves string literals alone', () => {
    fc.assert(
      fc.property(fc.array(piece, { minLength: 1, maxLength: 6 }), fc.constantFrom(' || ', '||', ' ||\n  '), (pieces, sep) => {
        const out = compileExpression(`concat_ws('-', ${pieces.map(written).join(sep)})`);
        expect(out?.sql).toBe(`concat_ws('-', ${pieces.map(compiled).join(sep)})`);
        expect(new Set(out?.reads)).toEqual(new Set(pieces.flatMap((p) => ('ref' in p ? [p.ref] : []))));
      }),
      { numRuns: 300 },
    );
  });

  it('maps names through the backward columns and refuses a name they do not map', () => {
    const only = new Map([['amount', 'amount__ferry_new']]);
    expect(compileExpression('(amount / 100)::int', only)).toEqual({ sql: '(NEW."amount__ferry_new" / 100)::int', reads: ['amount__ferry_new'] });
    expect(compileExpression('r.amount + other', only)).toBeUndefined();
  });

  it('folds unquoted names like PostgreSQL, ASCII letters only', () => {
    expect(compileExpression('Full_Name || "Full_Name"')?.sql).toBe('NEW."full_name" || NEW."Full_Name"');
    expect(compileExpression('R.Amount')?.sql).toBe('NEW."amount"');
    expect(compileExpression('Ünï')?.sql).toBe('NEW."Ünï"');
  });

  it('keeps offsets right after multi-byte text before a reference', () => {
    expect(compileExpression("'日本語 ünï' || amount || $$ amount $$ || /* amount */ amount")?.sql).toBe(
      `'日本語 ünï' || NEW."amount" || $$ amount $$ || /* amount */ NEW."amount"`,
    );
  });

  it('compiles nothing it cannot prove means the same as reading the row through a subquery', () => {
    for (const expr of [
      '(SELECT max(id) FROM other)',
      'EXISTS (SELECT 1 FROM other o WHERE o.id = id)',
      'amount IN (SELECT 1)',
      'r',
      'row_to_json(r)',
      'r.*',
      'new.amount',
      'old.amount',
      't.amount',
      'a.b.c',
      'tg_op',
      'found',
      '$1',
      'amount) FROM other WHERE (true',
      'amount); SELECT (1',
      'U&"d\\0061t"',
      'r . amount',
      'amount AS x',
      '',
      'not valid sql (',
    ]) {
      expect(compileExpression(expr), expr).toBeUndefined();
    }
  });

  it('compiles function calls, casts, operators, CASE and constants that read no column', () => {
    expect(compileExpression("CASE WHEN amount > 0 THEN split_part(full_name, ' ', 1)::varchar(10) ELSE current_user END")?.sql).toBe(
      `CASE WHEN NEW."amount" > 0 THEN split_part(NEW."full_name", ' ', 1)::varchar(10) ELSE current_user END`,
    );
    expect(compileExpression('now()')).toEqual({ sql: 'now()', reads: [] });
  });
});
