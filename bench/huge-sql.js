// A large, realistic SQL script for benchmarks: a few CREATE TABLE / CREATE INDEX
// statements and many INSERTs with multi-row VALUES (quoted text with apostrophes and
// non-ASCII letters, numbers, NULLs, timestamps, JSON), with comments in between.
// Deterministic (seeded), so every run measures the same text.

/** A small seeded PRNG (mulberry32), so the script is the same on every run. */
function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS = ['alpha', 'Zürich', "O'Brien", 'naïve', 'crème', 'brûlée', 'łódź', '東京', 'ferry', 'harbour', 'dock', 'tide', 'x;y', 'a--b'];

/**
 * An SQL script of about `bytes` bytes (UTF-8) that creates a few tables and fills
 * them; valid PostgreSQL, applied in one transaction.
 */
export function hugeScript(bytes, seed = 42) {
  const rnd = prng(seed);
  const pick = (xs) => xs[Math.floor(rnd() * xs.length)];
  const words = (n) => Array.from({ length: n }, () => pick(WORDS)).join(' ');
  const parts = [
    '-- seed data for the harbour schedule',
    'CREATE TABLE ships (id bigint PRIMARY KEY, name text NOT NULL, tonnage numeric(10,2), built date, notes text, meta jsonb);',
    'CREATE TABLE sailings (id bigint PRIMARY KEY, ship_id bigint NOT NULL REFERENCES ships (id), departs timestamptz NOT NULL, berth int, remark text);',
    'CREATE INDEX ships_name_idx ON ships (name);',
    'CREATE INDEX sailings_ship_departs_idx ON sailings (ship_id, departs);',
  ];
  let size = parts.reduce((n, p) => n + Buffer.byteLength(p) + 1, 0);
  let ship = 0;
  let sailing = 0;
  let batch = 0;
  while (size < bytes) {
    batch++;
    const rows = [];
    let stmt;
    if (batch % 2 === 1) {
      for (let r = 0; r < 50; r++) {
        ship++;
        const name = words(2).replaceAll("'", "''");
        const notes = rnd() < 0.2 ? 'NULL' : `'${words(6).replaceAll("'", "''")}'`;
        const day = String(1 + Math.floor(rnd() * 28)).padStart(2, '0');
        rows.push(
          `  (${ship}, '${name}', ${(rnd() * 90000).toFixed(2)}, '19${50 + Math.floor(rnd() * 49)}-03-${day}', ${notes}, '{"flag": "${pick(['NO', 'DE', 'PT'])}", "crew": ${Math.floor(rnd() * 40)}}')`,
        );
      }
      stmt = `INSERT INTO ships (id, name, tonnage, built, notes, meta) VALUES\n${rows.join(',\n')};`;
    } else {
      for (let r = 0; r < 50; r++) {
        sailing++;
        const remark = rnd() < 0.5 ? 'NULL' : `'${words(4).replaceAll("'", "''")}'`;
        rows.push(
          `  (${sailing}, ${1 + Math.floor(rnd() * ship)}, '2026-0${1 + Math.floor(rnd() * 9)}-1${Math.floor(rnd() * 9)} 0${Math.floor(rnd() * 9)}:30:00+00', ${Math.floor(rnd() * 60)}, ${remark})`,
        );
      }
      stmt = `INSERT INTO sailings (id, ship_id, departs, berth, remark) VALUES\n${rows.join(',\n')};`;
    }
    if (batch % 40 === 0) stmt = `/* batch ${batch}: ${words(3).replaceAll('*/', '')} */\n${stmt}`;
    if (batch % 97 === 0) stmt += `\nUPDATE ships SET notes = 'inspected; ok' WHERE id = ${ship};`;
    parts.push(stmt);
    size += Buffer.byteLength(stmt) + 1;
  }
  parts.push('ANALYZE ships;', 'ANALYZE sailings;', '');
  return parts.join('\n');
}
