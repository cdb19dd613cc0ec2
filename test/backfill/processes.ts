import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('../helpers/backfill-worker.mjs', import.meta.url));
const WRITER = fileURLToPath(new URL('./app-writer.mjs', import.meta.url));

/** A child process of a test, with its output so far. */
export interface Child {
  proc: ChildProcess;
  out(): string;
  err(): string;
  /** Resolves once stdout matches `re`; rejects if the process exits first. */
  waitFor(re: RegExp): Promise<void>;
  /** Exit code (null when killed by a signal). */
  done: Promise<number | null>;
}

function start(script: string, config: unknown): Child {
  const proc = spawn(process.execPath, [script], {
    env: { ...process.env, FERRY_BACKFILL_WORKER: JSON.stringify(config), FERRY_APP_WRITER: JSON.stringify(config) },
  });
  let out = '';
  let err = '';
  let exited = false;
  proc.stdout?.on('data', (d) => {
    out += d;
  });
  proc.stderr?.on('data', (d) => {
    err += d;
  });
  const done = new Promise<number | null>((resolve) =>
    proc.on('close', (code) => {
      exited = true;
      resolve(code);
    }),
  );
  return {
    proc,
    out: () => out,
    err: () => err,
    done,
    async waitFor(re) {
      const deadline = Date.now() + 90_000;
      while (!re.test(out)) {
        if (exited) throw new Error(`process exited before printing ${re}\n--- stdout\n${out}\n--- stderr\n${err}`);
        if (Date.now() > deadline) throw new Error(`gave up waiting for ${re}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
  };
}

/** Start test/helpers/backfill-worker.mjs (the built engine) with this configuration. */
export const startWorker = (config: Record<string, unknown>) => start(WORKER, config);

/** Start the application writer: inserts and updates rows of `users` through its own connection. */
export const startWriter = (config: { url: string; ops: number; maxId: number }) => start(WRITER, config);

/** The final progress a worker printed, if it got that far. */
export function finalOf(c: Child): { state: string; rowsDone: number } | undefined {
  const line = c
    .out()
    .split('\n')
    .find((l) => l.startsWith('final '));
  return line ? JSON.parse(line.slice(6)) : undefined;
}
