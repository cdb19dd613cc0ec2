// A tiny application in two versions, for the demo. Version 1 knows users(full_name),
// version 2 knows users(first_name, last_name). Each runs a loop of reads, updates and
// inserts, every one in its own short transaction that puts its shape's view schema
// first on the search path (ferry_v1_users / ferry_v2_users, then public, so once
// contract drops the views the table itself answers). Nothing here knows about ferry's
// internals: it is what an application's data layer would do. Every failed statement
// is counted — the demo fails if there is one.

const FIRST = ['Ada', 'Grace', 'Zoë', 'José', 'Søren', 'Björk'];
const LAST = ['Lovelace', 'Hopper', 'Brontë', 'Álvarez', 'Kierkegaard'];
const pick = (a, i) => a[i % a.length];

/**
 * Start version 1 or 2 of the application on `db`, or — given ferry's SDK `flags` instead of a
 * version — the version that asks flag `flag` per user: the new shape when the flag is on for
 * that user, with a default of `false` like most code writes it. `stop()` ends the loop and
 * returns what it did.
 */
export function startApp(db, versionOrFlags, { maxId = 300_000, flag = 'split-full-name' } = {}) {
  const byFlag = typeof versionOrFlags !== 'number';
  const stats = { version: byFlag ? 'flag' : versionOrFlags, reads: 0, updates: 0, inserts: 0, newPath: 0, failures: [], insertedIds: [] };
  let running = true;
  const loop = (async () => {
    for (let i = 1; running; i++) {
      const id = 1 + ((i * 7919) % maxId);
      const version = byFlag ? (versionOrFlags.isEnabled(flag, `user-${id}`, false) ? 2 : 1) : versionOrFlags;
      if (version === 2) stats.newPath++;
      const path = version === 1 ? 'ferry_v1_users, public' : 'ferry_v2_users, public';
      try {
        await db.transaction(async (tx) => {
          await tx.query("SELECT set_config('search_path', $1, true)", [path]);
          if (version === 1) {
            await tx.query('SELECT full_name FROM users WHERE id = $1', [id]);
            stats.reads++;
            if (i % 4 === 0) {
              await tx.query('UPDATE users SET full_name = $1 WHERE id = $2', [`${pick(FIRST, i)} ${pick(LAST, i)}`, id]);
              stats.updates++;
            }
            if (i % 10 === 0) {
              const r = await tx.query('INSERT INTO users (full_name, email) VALUES ($1, $2) RETURNING id', [
                `${pick(FIRST, i + 1)} ${pick(LAST, i)}`,
                `v1-${i}@example.com`,
              ]);
              stats.insertedIds.push(r.rows[0].id);
              stats.inserts++;
            }
          } else {
            await tx.query('SELECT first_name, last_name FROM users WHERE id = $1', [id]);
            stats.reads++;
            if (i % 4 === 0) {
              await tx.query('UPDATE users SET first_name = $1, last_name = $2 WHERE id = $3', [pick(FIRST, i + 2), pick(LAST, i + 1), id]);
              stats.updates++;
            }
            if (i % 10 === 0) {
              const r = await tx.query('INSERT INTO users (first_name, last_name, email) VALUES ($1, $2, $3) RETURNING id', [
                pick(FIRST, i + 3),
                pick(LAST, i + 2),
                `v2-${i}@example.com`,
              ]);
              stats.insertedIds.push(r.rows[0].id);
              stats.inserts++;
            }
          }
        });
      } catch (err) {
        stats.failures.push(err.message);
      }
      // Yield so the migration's own transactions interleave with the application's.
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    stats,
    async stop() {
      running = false;
      await loop;
      return stats;
    },
  };
}

/** One line for the demo's output. */
export function describeApp(s) {
  const failed = s.failures.length === 0 ? '0 failed' : `${s.failures.length} FAILED (first: ${s.failures[0]})`;
  if (s.version === 'flag')
    return `flag-reading app: ${s.reads} requests (${s.newPath} on the new path), ${s.updates} updates, ${s.inserts} inserts — ${failed}`;
  return `app v${s.version}: ${s.reads} reads, ${s.updates} updates, ${s.inserts} inserts — ${failed}`;
}
