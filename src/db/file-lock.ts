import { closeSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { FerryError } from '../errors.js';
import { sleep } from '../sleep.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

interface LockOwner {
  pid: number;
  host: string;
  command: string;
  since: string;
  /** Set by `ferry serve` once it listens: the URL other commands should use instead. */
  serving?: string;
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
  }
}

/**
 * Remove a dead owner's lock file, so that of several processes racing to take
 * it over, only one deletes it: the deletion happens under `<path>.takeover`
 * (created exclusively), and only when the file still names that same dead owner.
 */
function takeOver(path: string, dead: LockOwner): void {
  const guard = `${path}.takeover`;
  let fd: number;
  try {
    fd = openSync(guard, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    // Another process is taking over; a guard left by a process that died meanwhile is stale after a second.
    try {
      if (Date.now() - statSync(guard).mtimeMs > 1000) unlinkSync(guard);
    } catch {}
    return;
  }
  try {
    const now = readOwner(path);
    if (now && now.pid === dead.pid && now.since === dead.since) unlinkSync(path);
  } finally {
    closeSync(fd);
    unlinkSync(guard);
  }
}

/**
 * An exclusive lock file, so that only one process opens an embedded PGlite
 * data directory at a time. A lock left by a dead process on this host is taken over.
 */
export async function acquireFileLock(path: string, waitMs: number, what: string): Promise<() => void> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(path, 'wx');
      const owner: LockOwner = {
        pid: process.pid,
        host: hostname(),
        command: process.argv.slice(1).join(' '),
        since: new Date().toISOString(),
      };
      writeSync(fd, JSON.stringify(owner));
      closeSync(fd);
      return () => {
        if (readOwner(path)?.pid === process.pid) unlinkSync(path);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const owner = readOwner(path);
    if (owner && owner.host === hostname() && !alive(owner.pid)) {
      takeOver(path, owner);
      continue;
    }
    if (owner?.serving !== undefined && (owner.host !== hostname() || alive(owner.pid))) {
      // ferry serve holds the database for as long as it runs: waiting would only time out.
      throw new FerryError(
        'E_LOCKED',
        `${what} is owned by \`ferry serve\` (pid ${owner.pid} on ${owner.host}), serving ${owner.serving}`,
        `use the dashboard or its API at ${owner.serving} (actions need its token), or stop it (kill ${owner.pid}) and run this command again`,
      );
    }
    if (owner === undefined) {
      // Written but not yet filled in by its owner; look again shortly.
      await sleep(20);
      if (readOwner(path) === undefined && Date.now() >= deadline) unlinkSync(path);
      continue;
    }
    if (Date.now() >= deadline) {
      throw new FerryError(
        'E_LOCKED',
        `${what} is in use by pid ${owner.pid} on ${owner.host} (${owner.command}) since ${owner.since}`,
        'wait for that command to finish and run this one again, or raise --lock-wait',
      );
    }
    await sleep(100);
  }
}

/**
 * Record in a lock file this process holds that it serves the database at `url`
 * (`ferry serve`), so other commands refuse at once naming the URL instead of waiting.
 */
export function announceServing(path: string, url: string): void {
  const owner = readOwner(path);
  if (owner?.pid !== process.pid) return;
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify({ ...owner, serving: url }));
  renameSync(tmp, path);
}
