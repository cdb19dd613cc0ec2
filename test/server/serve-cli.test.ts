import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyPgliteTarget } from '../helpers/databases.js';
import { startFerry, until } from '../helpers/process.js';
import { createProject, runFerry } from '../helpers/project.js';

const ROOT = join(import.meta.dirname, '..', '..');

// `ferry serve` as users start it: a real process. On the embedded database it owns the data directory,
// so every other command on the project refuses at once, naming the URL and the pid, and works again once it stops.

describe('ferry serve (the command)', () => {
  it('owns the embedded database: other commands refuse naming its URL and pid, and work again after it stops', async () => {
    const p = createProject(await emptyPgliteTarget());
    const serve = startFerry(p.root, ['serve', '--port', '0', '--json'], { FERRY_SERVE_TOKEN: 'a-token-of-sixteen-chars-or-more' });
    await until('ferry serve to print its address', () => /\}\s*$/.test(serve.stdout()), serve);
    const started = JSON.parse(serve.stdout()) as { url: string; pid: number; env: string; token?: string };
    expect(started.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(started.pid).toBe(serve.pid);
    expect(started.token).toBeUndefined(); // FERRY_SERVE_TOKEN was given: nothing secret printed
    const res = await fetch(`${started.url}/api/v1/session`);
    expect(res.status).toBe(200);
    // The command runs from the one-file build (dist/bundle): ferry's own browser files and the vendored ones are still found.
    for (const [asset, fragment] of [
      ['app.js', readFileSync(join(ROOT, 'web', 'app.js'), 'utf8').slice(0, 200)],
      ['htmx.min.js', 'htmx'],
    ] as const) {
      const a = await fetch(`${started.url}/assets/${asset}`);
      expect(a.status, asset).toBe(200);
      expect(await a.text()).toContain(fragment);
    }

    const other = await runFerry(p.root, ['status']);
    expect(other.code).toBe(7);
    expect(other.stderr).toContain(started.url);
    expect(other.stderr).toContain(`pid ${serve.pid}`);
    expect(other.stderr).not.toMatch(/\n\s+at /); // no stack trace

    serve.kill('SIGTERM');
    const end = await serve.done;
    expect(end.code).toBe(0);
    const after = await runFerry(p.root, ['status']);
    expect(after.code).toBe(0);
  });

  it('prints a generated token when none is set', async () => {
    const p = createProject(await emptyPgliteTarget());
    const serve = startFerry(p.root, ['serve', '--port', '0'], { FERRY_SERVE_TOKEN: '' });
    await until('ferry serve to print its token', () => /token \S{20,}/.test(serve.stdout()), serve);
    const token = /token (\S+)/.exec(serve.stdout())?.[1] as string;
    const url = /(http:\/\/127\.0\.0\.1:\d+)/.exec(serve.stdout())?.[1] as string;
    const signIn = await fetch(`${url}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
    expect(signIn.status).toBe(200);
    serve.kill('SIGINT');
    expect((await serve.done).code).toBe(0);
  });

  it('refuses bad options before opening anything, with the documented exit codes', async () => {
    const p = createProject(await emptyPgliteTarget());
    const port = await runFerry(p.root, ['serve', '--port', '70000']);
    expect(port.code).toBe(2);
    expect(port.stderr).toMatch(/--port must be a whole number from 0 to 65535/);
    const short = await runFerry(p.root, ['serve', '--port', '0'], { FERRY_SERVE_TOKEN: 'short' });
    expect(short.code).toBe(3);
    expect(short.stderr).toMatch(/FERRY_SERVE_TOKEN is too short/);
    const help = await runFerry(p.root, ['serve', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/read-only/);
    expect(help.stdout).toMatch(/--port/);
  });
});
