import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './prometheus.js';

const run = promisify(execFile);

/** A PostgreSQL server of the test's own, for settings the shared one does not have (shared_preload_libraries). */
export interface OwnServer {
  url: string;
  stop(): Promise<void>;
}

/** The newest Debian PostgreSQL's programs (initdb, pg_ctl), or undefined. */
function binDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

/**
 * initdb and start a throwaway server on a free port (trust auth, no fsync) with `settings`; as root, it runs as
 * the `postgres` user, as PostgreSQL requires. In CI a missing PostgreSQL installation fails; elsewhere the caller
 * gets undefined and skips with the printed reason.
 */
export async function startOwnServer(settings: Record<string, string>): Promise<OwnServer | undefined> {
  const bin = binDir();
  if (!bin) {
    const why = 'no PostgreSQL installation under /usr/lib/postgresql (initdb, pg_ctl)';
    if (process.env.CI) throw new Error(`cannot start a server of the test's own in CI: ${why}`);
    console.warn(`[ferry tests] skipping: ${why}`);
    return undefined;
  }
  const asRoot = process.getuid?.() === 0;
  // As root, in /tmp itself: the test run's own temporary folder is closed to the postgres user.
  const dir = mkdtempSync(join(asRoot ? '/tmp' : tmpdir(), 'ferry-own-pg-'));
  const data = join(dir, 'data');
  const as = async (cmd: string, args: string[]) => (asRoot ? run('runuser', ['-u', 'postgres', '--', join(bin, cmd), ...args]) : run(join(bin, cmd), args));
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    chownSync(dir, Number(stdout.trim()), Number(gid.trim()));
    chmodSync(dir, 0o700);
  }
  const port = await freePort();
  await as('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8', '--locale=C']);
  const options = [`-p ${port}`, `-k ${dir}`, "-c listen_addresses='127.0.0.1'", '-c fsync=off', ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`)];
  await as('pg_ctl', ['-D', data, '-l', join(dir, 'log'), '-w', '-t', '60', '-o', options.join(' '), 'start']);
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      await as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
