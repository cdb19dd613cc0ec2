import { spawn } from 'node:child_process';
import { type CliResult, FERRY_BIN } from './project.js';

/** A `ferry` child process still running: its output so far, a way to signal it, and its end. */
export interface RunningFerry {
  pid: number;
  /** What it has printed so far. */
  stdout(): string;
  stderr(): string;
  /** Whether it has exited. */
  exited(): boolean;
  /** Resolves once stdout contains `text`; rejects, with the output, if the process exits first. */
  waitForOutput(text: string): Promise<void>;
  /** Send a real signal to the process. */
  kill(signal: NodeJS.Signals): void;
  /** Resolves when the process has exited and its pipes are closed. */
  done: Promise<CliResult>;
}

/** Start `ferry args…` in `cwd` as a real child process, without waiting for it. */
export function startFerry(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): RunningFerry {
  const child = spawn(process.execPath, [FERRY_BIN, ...args], { cwd, env: { ...process.env, NO_COLOR: '1', ...env } });
  if (child.pid === undefined) throw new Error(`could not start ferry ${args.join(' ')}`);
  let stdout = '';
  let stderr = '';
  let exited = false;
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      exited = true;
      resolve({ code, signal, stdout, stderr });
    });
  });
  const running: RunningFerry = {
    pid: child.pid,
    stdout: () => stdout,
    stderr: () => stderr,
    exited: () => exited,
    waitForOutput: (text) => until(`ferry ${args.join(' ')} to print "${text}"`, () => stdout.includes(text), running),
    kill: (signal) => {
      child.kill(signal);
    },
    done,
  };
  return running;
}

/**
 * Poll `check` until it holds. Fails if `runner` exits first (with its output),
 * or after `limitMs` — a guard against hanging, not a timing assertion.
 */
export async function until(what: string, check: () => boolean | Promise<boolean>, runner?: RunningFerry, limitMs = 90_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  for (;;) {
    if (await check()) return;
    if (runner?.exited()) {
      throw new Error(`ferry exited before ${what}\n--- stdout\n${runner.stdout()}\n--- stderr\n${runner.stderr()}`);
    }
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Run `node script args…` to its end and resolve to the JSON it printed on its line starting with `prefix`
 * (its report of what it did); rejects, with its output, when it exits non-zero or prints no such line.
 * `onStart` receives a kill switch for the caller's cleanups.
 */
export function runReporter<T>(script: string, args: string[], prefix: string, onStart?: (kill: () => void) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [script, ...args]);
    onStart?.(() => child.kill('SIGKILL'));
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(prefix));
      if (code !== 0 || !line) reject(new Error(`${script} ${args.join(' ')} exited ${code}:\n${out}`));
      else resolve(JSON.parse(line.slice(prefix.length)) as T);
    });
  });
}
