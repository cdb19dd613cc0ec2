import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { forEachDriver } from '../helpers/databases.js';
import { type CliResult, createProject, FERRY_BIN, runFerry } from '../helpers/project.js';

const STACK = /\n\s+at .+:\d+:\d+/;
const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('not opened')) };

/**
 * Run ferry with its stdout a real pipe whose reading end is closed before
 * ferry writes (the reader of `ferry … | head` having gone), so every write
 * to stdout fails with EPIPE.
 */
function runIntoClosedPipe(cwd: string, args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FERRY_BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout: '', stderr }));
  });
}

/** `ferry args | head -n 1` in a real shell; ferry's exit status and stderr are reported from the shell. */
function runIntoHead(cwd: string, args: string[]): Promise<{ status: number; stderr: string; head: string }> {
  const quoted = [process.execPath, FERRY_BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return new Promise((resolve, reject) => {
    const sh = spawn('bash', ['-c', `${quoted} 2>"$ERR" | head -n 1; echo "status=\${PIPESTATUS[0]}"; cat "$ERR"`], {
      cwd,
      env: { ...process.env, NO_COLOR: '1', ERR: `${cwd}/.ferry-stderr` },
    });
    let out = '';
    sh.stdout.on('data', (d) => {
      out += d;
    });
    sh.on('error', reject);
    sh.on('close', () => {
      const m = /^([\s\S]*?)status=(\d+)\n([\s\S]*)$/.exec(out);
      if (!m) return reject(new Error(`unexpected shell output: ${out}`));
      resolve({ head: m[1] as string, status: Number(m[2]), stderr: m[3] as string });
    });
  });
}

describe('output into a closed pipe', () => {
  it('help into a pipe whose reader has gone ends quietly with exit 0, for the program and every command', async () => {
    for (const args of [['--help'], ['up', '--help'], ['rollout', '--help'], ['flag', 'set', '--help'], ['help', 'ticket']]) {
      const r = await runIntoClosedPipe('/', args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
  });

  it('`ferry <command> --help | head -1` prints the first line and exits 0 without a stack trace', async () => {
    const r = await runIntoHead(createProject(noDb).root, ['verify', '--help']);
    expect(r.head).toBe('Usage: ferry verify [options] [id]\n');
    expect(r.status).toBe(0);
    expect(r.stderr).not.toMatch(STACK);
    expect(r.stderr).not.toContain('EPIPE');
  });

  it('text and --json output and error documents into a closed pipe end quietly with the command’s own exit status', async () => {
    const p = createProject(noDb);
    for (const args of [
      ['ticket', 'create', 'one'],
      ['ticket', 'list'],
      ['ticket', 'list', '--json'],
      ['lint', '--json'],
    ]) {
      const r = await runIntoClosedPipe(p.root, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
    const bad = await runIntoClosedPipe(p.root, ['up', '--bogus', '--json']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('');
    const closed = await runIntoClosedPipe(p.root, ['ticket', 'close', '7', '--json']);
    expect(closed.code).toBe(5);
    expect(closed.stderr).toBe('');
  });
});

forEachDriver('a closed pipe never cuts a run short', (suite) => {
  it('ferry up into a closed pipe still applies every step and exits 0; status and log into it end quietly', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_two', [
      { id: 'one', up: 'CREATE TABLE a (x int);', down: 'DROP TABLE a;' },
      { id: 'two', up: 'CREATE TABLE b (x int);', down: 'DROP TABLE b;' },
    ]);
    const up = await runIntoClosedPipe(p.root, ['up']);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stderr).not.toMatch(STACK);
    for (const args of [['status'], ['status', '--json'], ['log'], ['report', '0001_two']]) {
      const r = await runIntoClosedPipe(p.root, args);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
    const s = await runFerry(p.root, ['status', '--json']);
    expect(JSON.parse(s.stdout).migrations[0]).toMatchObject({ id: '0001_two', appliedCount: 2 });
  });
});
