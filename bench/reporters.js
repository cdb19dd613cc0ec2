// Child processes that report what they have seen, one line each ("ready", or "v <version>"), timed on arrival
// in the parent: how bench/sdk.js and bench/relay.js time a flag change reaching processes that follow it.
import { spawn } from 'node:child_process';

/** Start `node script ...args`; `seen` maps 'ready' or a version to the time (performance.now()) its line arrived. */
export function startReporter(script, args) {
  const child = spawn(process.execPath, [script, ...args]);
  const seen = new Map();
  let buf = '';
  child.stdout.on('data', (d) => {
    const now = performance.now();
    buf += d;
    let nl = buf.indexOf('\n');
    while (nl >= 0) {
      const [word, version] = buf.slice(0, nl).split(' ');
      buf = buf.slice(nl + 1);
      seen.set(word === 'ready' ? 'ready' : Number(version), now);
      nl = buf.indexOf('\n');
    }
  });
  child.stderr.on('data', (d) => process.stderr.write(d));
  return { child, seen };
}

/** Poll `check` every 2 ms until it holds; throws after `limitMs`. */
export async function waitFor(what, check, limitMs = 60_000) {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/**
 * Change flag `key` `changes` times (an autocommit UPDATE through client `c`, 300 ms apart) and return, for
 * each change, the milliseconds until the last of `reporters` reported its new version.
 */
export async function fanOut(c, reporters, key, changes) {
  await waitFor('every reporter to load', () => reporters.every((r) => r.seen.has('ready')));
  const latencies = [];
  for (let k = 0; k < changes; k++) {
    await new Promise((r) => setTimeout(r, 300));
    const start = performance.now();
    const { rows } = await c.query(
      `UPDATE ferry.flags SET percentage = $2, version = version + 1, updated_at = now() WHERE key = $1 RETURNING version::int AS v`,
      [key, k % 2 === 0 ? 50 : 25],
    );
    const version = rows[0].v;
    await waitFor(`every reporter to see version ${version}`, () => reporters.every((r) => r.seen.has(version)));
    latencies.push(Math.max(...reporters.map((r) => r.seen.get(version))) - start);
  }
  return latencies;
}
