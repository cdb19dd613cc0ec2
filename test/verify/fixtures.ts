import { createHash } from 'node:crypto';
import type { Database } from '../../src/db/database.js';
import { quoteIdent } from '../../src/db/quote.js';
import type { KeyedSpec } from '../../src/verify/index.js';

/** The key shapes the engine must handle. */
export type KeyKind = 'int' | 'text' | 'uuid' | 'composite';

const KEY_COLUMNS: Record<KeyKind, string> = {
  int: 'id bigint PRIMARY KEY',
  // Mixed case and non-ASCII: ordered differently by en_US and "C", so both sides must agree on "C".
  text: 'id text PRIMARY KEY',
  uuid: 'id uuid PRIMARY KEY',
  composite: 'tenant int NOT NULL, seq int NOT NULL, PRIMARY KEY (tenant, seq)',
};

const KEY_VALUES: Record<KeyKind, string> = {
  int: 'g',
  text: `CASE WHEN g % 2 = 0 THEN 'Key-' ELSE 'key-' END || g || CASE WHEN g % 3 = 0 THEN 'é' ELSE '' END`,
  uuid: 'md5(g::text)::uuid',
  composite: 'g % 7, g',
};

/** The key columns of a key kind. */
export const keyOf = (kind: KeyKind): string[] => (kind === 'composite' ? ['tenant', 'seq'] : ['id']);

/** The key (text forms joined by ",") of generator value `g`, as the engine reports it. */
export function keyText(kind: KeyKind, g: number): string {
  switch (kind) {
    case 'int':
      return String(g);
    case 'text':
      return `${g % 2 === 0 ? 'Key-' : 'key-'}${g}${g % 3 === 0 ? 'é' : ''}`;
    case 'uuid': {
      const h = createHash('md5').update(String(g)).digest('hex');
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    }
    case 'composite':
      return `${g % 7},${g}`;
  }
}

/** The compared columns of the fixture table. */
export const COLUMNS = ['g', 'name', 'amount', 'at', 'local_at', 'note', 'active', 'score', 'doc', 'unit'];

/** How a side stores the same data: `alt` uses other types and representations of equal values. */
export type Representation = 'plain' | 'alt';

/**
 * Create `table` with `rows` deterministic rows (g = 1..rows): non-ASCII text,
 * numerics, timestamps, NULL and empty notes, floats, json. `alt` stores the
 * same values differently: numeric(14,4) (1.5 → 1.5000), json text with other
 * spacing and key order, timestamps written in another time zone.
 */
export async function createFixture(db: Database, table: string, kind: KeyKind, rows: number, rep: Representation = 'plain'): Promise<void> {
  const t = quoteIdent(table);
  const alt = rep === 'alt';
  await db.exec(`CREATE TABLE ${t} (${KEY_COLUMNS[kind]}, g int NOT NULL UNIQUE, name text NOT NULL, amount ${alt ? 'numeric(14,4)' : 'numeric'},
      at timestamptz, local_at timestamp, note text, active boolean, score double precision, doc ${alt ? 'json' : 'jsonb'}, unit text NOT NULL)`);
  const zone = alt ? 'Asia/Tokyo' : 'UTC';
  const at = `(timestamptz '2024-03-01 00:00:00+00' + g * interval '61.123457 seconds') AT TIME ZONE 'UTC'`;
  await db.exec(`SET timezone = '${zone}';
    INSERT INTO ${t} SELECT ${KEY_VALUES[kind]}, g, 'Zoë ' || g || ' 東京', round(g / 4.0, 2),
      (to_char(${at}, 'YYYY-MM-DD HH24:MI:SS.US') || '+00')::timestamptz, timestamp '2024-01-01' + g * interval '1 hour',
      CASE g % 5 WHEN 0 THEN NULL WHEN 1 THEN '' ELSE 'note ' || g END, g % 2 = 0, g / 3.0::float8,
      ${alt ? `('{ "tags": ["a", "b"],  "n": ' || g || ' }')::json` : `jsonb_build_object('n', g, 'tags', jsonb_build_array('a', 'b'))`}, 'user-' || g
    FROM generate_series(1, ${rows}) g;
    SET timezone = 'UTC'`);
}

/** A checksum/diff spec comparing two fixture tables on every column. */
export function fixtureSpec(kind: KeyKind, source: string, target: string): KeyedSpec {
  return { source: { table: source }, target: { table: target }, key: keyOf(kind), columns: COLUMNS };
}

/** The kinds of change {@link injectDifferences} cycles through. */
const CHANGES = [
  `name = replace(name, 'ë', 'e')`,
  'DELETE',
  `note = CASE WHEN note IS NULL THEN '' WHEN note = '' THEN NULL ELSE note || '!' END`,
  'amount = amount + 0.01',
  `at = at + interval '1 microsecond'`,
  'INSERT',
  `doc = doc::jsonb || '{"n": -1}'`,
  'score = score * 1.0000001',
] as const;

/**
 * Change `k` rows of `table` (spread over the key space), cycling through
 * updates of every type, deletes and inserts of new keys; returns the keys
 * that now differ, as {@link keyText}.
 */
export async function injectDifferences(db: Database, table: string, kind: KeyKind, rows: number, k: number): Promise<Set<string>> {
  const t = quoteIdent(table);
  const keys = new Set<string>();
  const byChange = new Map<string, number[]>();
  for (let i = 0; i < k; i++) {
    const g = 1 + Math.floor((i * rows) / k);
    const change = CHANGES[i % CHANGES.length]!;
    const gs = byChange.get(change) ?? [];
    gs.push(change === 'INSERT' ? rows + 1 + i : g);
    byChange.set(change, gs);
  }
  for (const [change, gs] of byChange) {
    for (const g of gs) keys.add(keyText(kind, g));
    if (change === 'DELETE') await db.query(`DELETE FROM ${t} WHERE g = ANY($1::int[])`, [gs]);
    else if (change === 'INSERT')
      await db.query(
        `INSERT INTO ${t} SELECT ${KEY_VALUES[kind]}, g, 'new ' || g, 1, now(), now()::timestamp, NULL, true, 0, '{}', 'user-' || g FROM unnest($1::int[]) g`,
        [gs],
      );
    else await db.query(`UPDATE ${t} SET ${change.replace('doc::jsonb', 'doc::jsonb')} WHERE g = ANY($1::int[])`, [gs]);
  }
  return keys;
}

/** The differing keys of a result, as {@link keyText}. */
export const keysOf = (differences: { key: Record<string, string> }[]): string[] => differences.map((d) => Object.values(d.key).join(','));
