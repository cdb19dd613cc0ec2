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
