import { spawn } from 'node:child_process';

/** Run a command to completion; resolves to its wall time in seconds, throws (with the end of its output) on a non-zero exit. */
export function timed(cmd, args, cwd) {
  return new Promise((ok, fail) => {
    const started = process.hrtime.bigint();
    const child = spawn(cmd, args, { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      out += d;
    });
    child.on('error', fail);
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) ok(seconds);
      else fail(new Error(`${cmd} ${args.join(' ')} exited with ${code}:\n${out.slice(-4000)}`));
    });
  });
}
