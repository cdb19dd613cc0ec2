import { chmodSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { type CliResult, FERRY_BIN, runFerry } from './project.js';

/** uid and gid of `nobody`: file permissions bind it, unlike root (which the tests run as, also in CI). */
export const NOBODY = { uid: 65534, gid: 65534 };

/**
 * Let `nobody` read a project made by the tests: every folder from `root` up to
 * `/` gets search permission for others, and everything inside `root` becomes
 * readable. Permissions set on purpose afterwards (chmod 000) still bind it.
 */
export function openToEveryone(root: string): void {
  const walk = (p: string) => {
    const st = statSync(p);
    chmodSync(p, st.mode | (st.isDirectory() ? 0o755 : 0o644));
    if (st.isDirectory()) for (const n of readdirSync(p)) walk(join(p, n));
  };
  walk(resolve(root));
  for (let d = dirname(resolve(root)); d !== dirname(d); d = dirname(d)) {
    const mode = statSync(d).mode;
    if ((mode & 0o001) === 0) chmodSync(d, mode | 0o111);
  }
}

/** Fail loudly, not with a puzzling ferry error, when `nobody` cannot reach the built CLI (a checkout in a private home folder). */
function checkReachable(): void {
  for (let d = dirname(FERRY_BIN); d !== dirname(d); d = dirname(d)) {
    if ((statSync(d).mode & 0o001) === 0)
      throw new Error(`user nobody cannot reach ${FERRY_BIN}: ${d} is not searchable by others (chmod o+x it to run these tests)`);
  }
}

/** Run `ferry args…` in `cwd` as a real child process of user `nobody`. */
export function runFerryAsNobody(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  checkReachable();
  return runFerry(cwd, args, { HOME: '/nonexistent', ...env }, NOBODY);
}
