import pg from 'pg';

/** The PostgreSQL server the benches use: FERRY_BENCH_URL, or the local one. */
export const SERVER = process.env.FERRY_BENCH_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The URL of database `db` on {@link SERVER}. */
export const urlOf = (db) => Object.assign(new URL(SERVER), { pathname: `/${db}` }).toString();

/** Run `fn` on a client of `url`, closed afterwards. */
export async function withClient(url, fn) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
