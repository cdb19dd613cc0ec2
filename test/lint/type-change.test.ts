import { beforeAll, describe, expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import { type LintCatalog, lintSql, readLintCatalog } from '../../src/lint/index.js';
import { forEachDriver } from '../helpers/databases.js';

/**
 * `safe`: PostgreSQL keeps the table and its index (same relfilenode) and the
 * linter does not flag it. `rewrite`: PostgreSQL rewrites the table or rebuilds
 * the index, and the linter flags it. `conservative`: not proven safe by the
 * linter's rules, so flagged, whatever PostgreSQL does.
 */
type Verdict = 'safe' | 'rewrite' | 'conservative';

const CASES: [from: string, to: string, verdict: Verdict][] = [
  ['varchar(10)', 'text', 'safe'],
  ['varchar(10)', 'varchar(20)', 'safe'],
  ['varchar(10)', 'character varying(10)', 'safe'],
  ['varchar(10)', 'varchar', 'safe'],
  ['varchar(10)', 'varchar(5)', 'rewrite'],
  ['varchar', 'text', 'safe'],
  ['text', 'varchar', 'safe'],
  ['text', 'varchar(10)', 'rewrite'],
  ['varchar', 'varchar(10)', 'rewrite'],
  ['numeric(10,2)', 'numeric(12,2)', 'safe'],
  ['numeric(10,2)', 'decimal(14,2)', 'safe'],
  ['numeric(10,2)', 'numeric', 'safe'],
  ['numeric(10,0)', 'numeric(12)', 'safe'],
  ['numeric(10,2)', 'numeric(12,3)', 'rewrite'],
  ['numeric(10,2)', 'numeric(8,2)', 'rewrite'],
  ['numeric', 'numeric(10,2)', 'rewrite'],
  ['int', 'integer', 'safe'],
  ['int', 'bigint', 'rewrite'],
  ['bigint', 'int', 'rewrite'],
  ['smallint', 'int', 'rewrite'],
  ['char(10)', 'text', 'rewrite'],
  ['char(10)', 'char(20)', 'rewrite'],
  ['char(10)', 'varchar(20)', 'rewrite'],
  ['timestamp(3)', 'timestamp(6)', 'safe'],
  ['timestamp(3)', 'timestamp', 'safe'],
  ['timestamp', 'timestamp(6)', 'safe'],
  ['timestamp', 'timestamp(3)', 'rewrite'],
  ['timestamptz(3)', 'timestamptz', 'safe'],
  ['time(3)', 'time', 'safe'],
  ['timetz(3)', 'timetz(5)', 'safe'],
  ['timestamp', 'timestamptz', 'rewrite'],
  ['varbit(5)', 'varbit(10)', 'safe'],
  ['varbit(5)', 'bit varying', 'safe'],
  ['bit(5)', 'bit(10)', 'rewrite'],
  ['cidr', 'inet', 'safe'],
  ['inet', 'cidr', 'rewrite'],
  ['varchar(10)[]', 'text[]', 'rewrite'],
  ['interval(3)', 'interval', 'conservative'],
  ['varchar(10) COLLATE "C"', 'text', 'rewrite'],
  ['varchar(10) COLLATE "C"', 'varchar(20)', 'rewrite'],
  ['varchar(10) COLLATE "C"', 'text COLLATE "C"', 'safe'],
  ['varchar(10)', 'text USING c', 'safe'],
  ['varchar(10)', 'text USING lower(c)', 'rewrite'],
  ['int', 'text', 'rewrite'],
];

interface Outcome {
  flagged: string[];
  tableRewritten: boolean;
  indexRebuilt: boolean;
}

async function relfilenodes(db: Database, table: string): Promise<[number, number]> {
  const r = await db.query<{ t: number; i: number }>(
    `SELECT (SELECT relfilenode::int FROM pg_class WHERE oid = $1::regclass) AS t, (SELECT relfilenode::int FROM pg_class WHERE oid = $2::regclass) AS i`,
    [table, `${table}_c`],
  );
  return [r.rows[0]?.t ?? 0, r.rows[0]?.i ?? 0];
}

forEachDriver('type changes judged from the live catalog', (suite) => {
  const outcomes = new Map<number, Outcome>();
  let catalog: LintCatalog;
  let withoutCatalog: string[][] = [];
  const statement = (i: number) => `ALTER TABLE t${i} ALTER COLUMN c TYPE ${CASES[i]?.[1]};`;

  beforeAll(async () => {
    const db = await (await suite.fresh()).open();
    try {
      for (const [i, [from]] of CASES.entries()) {
        await db.exec(
          `CREATE TABLE t${i} (id int, c ${from}); CREATE INDEX t${i}_c ON t${i} (c); INSERT INTO t${i} (id) SELECT g FROM generate_series(1, 200) g;`,
        );
      }
      await db.exec('ANALYZE');
      catalog = await readLintCatalog(db);
      for (const i of CASES.keys()) {
        const report = await lintSql(statement(i), { catalog, ferryManaged: true });
        const [t0, i0] = await relfilenodes(db, `t${i}`);
        await db.exec(statement(i));
        const [t1, i1] = await relfilenodes(db, `t${i}`);
        outcomes.set(i, { flagged: report.findings.map((f) => f.rule), tableRewritten: t0 !== t1, indexRebuilt: i0 !== i1 });
      }
      withoutCatalog = await Promise.all(CASES.map(async (_, i) => (await lintSql(statement(i), { ferryManaged: true })).findings.map((f) => f.rule)));
    } finally {
      await db.close();
    }
  }, 120_000);

  describe.each(CASES.map((c, i) => [`${c[0]} → ${c[1]}`, i, c[2]] as const))('%s', (_name, i, verdict) => {
    if (verdict === 'safe') {
      it('is not flagged, and PostgreSQL keeps the table and its index', () => {
        expect(outcomes.get(i)).toEqual({ flagged: [], tableRewritten: false, indexRebuilt: false });
      });
    } else if (verdict === 'rewrite') {
      it('is flagged, and PostgreSQL rewrites the table or rebuilds its index', () => {
        const o = outcomes.get(i);
        expect(o?.flagged).toEqual(['column-type-change']);
        expect(o?.tableRewritten || o?.indexRebuilt).toBe(true);
      });
    } else {
      it('is flagged: not proven binary-coercible', () => {
        expect(outcomes.get(i)?.flagged).toEqual(['column-type-change']);
      });
    }
    it('is flagged without a catalog, as before', () => {
      expect(withoutCatalog[i]).toEqual(['column-type-change']);
    });
  });

  it('flags int → bigint with the table measured: rows and bytes in the message and the finding', async () => {
    const i = CASES.findIndex(([from, to]) => from === 'int' && to === 'bigint');
    const report = await lintSql(statement(i), { catalog, ferryManaged: true });
    const [f] = report.findings;
    const table = catalog.tables.find((t) => t.name === `t${i}`);
    expect(table?.rows).toBe(200);
    expect(f?.message).toMatch(
      new RegExp(
        `^ALTER COLUMN c TYPE int8 on t${i} rewrites the table: integer → bigint is not binary-coercible \\(public\\.t${i}: ~200 rows, [\\d.]+ kB\\)$`,
      ),
    );
    expect(f?.catalog).toEqual({ table: `public.t${i}`, found: true, rows: 200, bytes: table?.bytes, column: { name: 'c', type: 'integer' } });
    expect(report.statements[0]?.rewrites.map((r) => r.reason)).toEqual([
      'ALTER COLUMN c TYPE rewrites the table and its indexes: integer → bigint is not binary-coercible',
    ]);
    expect(report.catalog).toEqual({ searchPath: ['public'], tables: CASES.length, indexes: CASES.length });
  });

  it('lists no rewrite for a binary-coercible change, and still the brief ACCESS EXCLUSIVE lock', async () => {
    const i = CASES.findIndex(([from, to]) => from === 'varchar(10)' && to === 'text');
    const report = await lintSql(statement(i), { catalog, ferryManaged: true });
    expect(report.findings).toEqual([]);
    expect(report.statements[0]?.rewrites).toEqual([]);
    expect(report.statements[0]?.locks.map((l) => l.mode)).toEqual(['AccessExclusiveLock']);
  });
});
