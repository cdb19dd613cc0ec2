import { closeSync, openSync, readFileSync, unlinkSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { FerryError } from '../errors.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
}

function readOwner(path: string): LockOwner | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as LockOwner;
  } catch {
    return undefined;
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
      try {
        unlinkSync(path);
      } catch {}
      continue;
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
