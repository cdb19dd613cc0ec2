import type { Command } from 'commander';
import { type GlobalOptions, workspaceOptionsOf } from '../context.js';
import { wholeNumber } from '../numbers.js';
import { pc, processOutput } from '../output.js';

/** `ferry serve`: the dashboard, the JSON API, live updates, /metrics and the flag relay, until interrupted. */
export function registerServeCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('serve')
    .description(
      'serve the dashboard, the JSON API (/api/v1, described at /api/v1/openapi.json), live updates, /metrics and the flag relay for one environment',
    )
    .option('--host <address>', 'address to listen on (default 127.0.0.1: this machine only)')
    .option('--port <n>', 'port to listen on; 0 picks a free one (default 4100)')
    .addHelpText(
      'after',
      `
Without the token the server is read-only. Every action (pause a backfill, advance a rollout, the kill
switch, approve …) needs it: FERRY_SERVE_TOKEN, or the one generated and printed at start. A browser
signs in once with it; scripts send "Authorization: Bearer <token>" (and "X-Ferry-Actor: <name>").

On the embedded database (PGlite) this process owns the database while it runs: other ferry commands on
the project refuse at once, naming the URL; use the dashboard or its API instead, or stop the server.

Applications can read flags through the relay instead of a database session each:
  createFlags({ relay: 'http://127.0.0.1:4100' })

Examples:
  ferry serve
  ferry serve --env production --host 0.0.0.0 --port 8080
  FERRY_SERVE_TOKEN=$(openssl rand -hex 24) ferry serve --json`,
    )
    .action(async (o: { host?: string; port?: string }) => {
      const g = globals();
      const out = processOutput(Boolean(g.json));
      const port = o.port === undefined ? undefined : wholeNumber('--port', o.port, { min: 0, max: 65535 }, '--port 4100');
      // The server (hono, the API schemas) loads only here: every other command, `up` above all, starts without it.
      const { startServer } = await import('../../server/index.js');
      const server = await startServer({
        ...workspaceOptionsOf(g),
        ...(o.host === undefined ? {} : { host: o.host }),
        ...(port === undefined ? {} : { port }),
      });
      out.line(`${pc.bold('ferry serve')} ${pc.green(server.url)} ${pc.dim(`(env ${server.ctx.ws.conn.env}, pid ${server.pid})`)}`);
      if (server.tokenGenerated) out.line(`token ${pc.bold(server.token)} ${pc.dim('(sign in with it to act; set FERRY_SERVE_TOKEN to choose your own)')}`);
      else out.line(pc.dim('token: FERRY_SERVE_TOKEN'));
      out.line(pc.dim('read-only without the token · Ctrl-C stops'));
      out.result({ url: server.url, pid: server.pid, env: server.ctx.ws.conn.env, ...(server.tokenGenerated ? { token: server.token } : {}) });
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await server.close();
      out.line(pc.dim('ferry serve stopped'));
    });
}
