import type { Queryable } from '../../src/db/database.js';
import type { TestProject } from './project.js';

/** The migration of the verification tests: people_old (full_name) copied into people (first_name, last_name). */
export const PEOPLE = '0001_split_people';

/** Columns compared by the diff and checksum checks: the split names (mapped), the join time and the balance. */
const COLUMNS = [
  { name: 'first', source: `split_part(full_name, ' ', 1)`, target: 'first_name' },
  { name: 'last', source: `split_part(full_name, ' ', 2)`, target: 'last_name' },
  'joined',
  'balance',
];

/** SQL creating `people_old` with `rows` rows (non-ASCII names, timestamps, numerics). */
export function peopleOldSql(rows: number): string {
  return `CREATE TABLE people_old (id bigint PRIMARY KEY, full_name text NOT NULL, joined timestamptz, balance numeric);
    INSERT INTO people_old SELECT g, CASE WHEN g % 3 = 0 THEN 'Zoë' ELSE 'Ada' END || ' Person' || g,
      timestamptz '2024-01-01 00:00:00+00' + g * interval '1 minute 0.123456 seconds', round(g / 7.0, 2)
    FROM generate_series(1, ${rows}) g;`;
}

/** SQL creating `people` as the migrated copy of `people_old` (same database), with other types for equal values. */
export const PEOPLE_COPY_SQL = `CREATE TABLE people (id bigint PRIMARY KEY, first_name text, last_name text, joined timestamptz, balance numeric(12, 4));
    INSERT INTO people SELECT id, split_part(full_name, ' ', 1), split_part(full_name, ' ', 2), joined, balance FROM people_old;`;

/** The checks of the migration; `sourceEnv` reads the source side (people_old) from another environment. */
export function peopleChecks(opts: { sourceEnv?: string; chunkRows?: number } = {}): Record<string, unknown>[] {
  const source = { table: 'people_old', ...(opts.sourceEnv ? { env: opts.sourceEnv } : {}) };
  const checks: Record<string, unknown>[] = [
    { name: 'row-count', kind: 'count', source, target: { table: 'people' } },
    { name: 'people-data', kind: 'checksum', source, target: { table: 'people' }, key: ['id'], columns: COLUMNS, chunkRows: opts.chunkRows ?? 250 },
    {
      name: 'people-schema',
      kind: 'schema',
      assertions: [
        { kind: 'column-exists', table: 'people', column: 'first_name' },
        { kind: 'index-valid', index: 'people_pkey' },
        { kind: 'no-invalid-constraints', table: 'people' },
      ],
    },
  ];
  if (!opts.sourceEnv)
    checks.splice(1, 0, { name: 'names-match', kind: 'diff', source, target: { table: 'people' }, key: ['id'], columns: COLUMNS, limit: 50 });
  return checks;
}

/**
 * Write the migration: with `copy` its step also creates `people` from
 * `people_old` (one database); without, `people_old` lives elsewhere and the
 * step creates `people` with `rows` rows generated the same way.
 */
export function peopleMigration(p: TestProject, opts: { rows: number; sourceEnv?: string; chunkRows?: number }): string {
  const up = opts.sourceEnv
    ? `${peopleOldSql(opts.rows).replaceAll('people_old', 'people_src')}
       ${PEOPLE_COPY_SQL.replaceAll('people_old', 'people_src')}
       DROP TABLE people_src;`
    : `${peopleOldSql(opts.rows)}\n${PEOPLE_COPY_SQL}`;
  return p.migration(PEOPLE, [{ id: 'create-people', up, down: 'DROP TABLE people; DROP TABLE IF EXISTS people_old;' }], {
    type: 'data-format',
    strategy: 'incremental',
    flag: 'split-people',
    rollout: {
      stages: [
        { percent: 25, hold: '1s' },
        { percent: 100, hold: '1s' },
      ],
    },
    checks: peopleChecks(opts),
  });
}

/** Corrupt `people` at these ids: a changed name, a deleted row, a changed balance, a NULL-vs-empty name, in turn. Returns the ids. */
export async function corruptPeople(db: Queryable, ids: readonly number[]): Promise<Set<string>> {
  const changes = [`first_name = first_name || 'x'`, 'DELETE', 'balance = balance + 0.01', `last_name = CASE WHEN last_name = '' THEN NULL ELSE '' END`];
  for (const [i, id] of ids.entries()) {
    const change = changes[i % changes.length] as string;
    await db.query(change === 'DELETE' ? 'DELETE FROM people WHERE id = $1' : `UPDATE people SET ${change} WHERE id = $1`, [id]);
  }
  return new Set(ids.map(String));
}

/** Undo {@link corruptPeople}: copy the rows again from people_old (same database). */
export async function repairPeople(db: Queryable): Promise<void> {
  await db.exec(
    `DELETE FROM people; INSERT INTO people SELECT id, split_part(full_name, ' ', 1), split_part(full_name, ' ', 2), joined, balance FROM people_old`,
  );
}
