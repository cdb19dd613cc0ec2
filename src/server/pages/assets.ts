import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../package-root.js';
import type { ServeApp } from '../context.js';
import { problem } from '../problem.js';

const require = createRequire(import.meta.url);
/** ferry's own browser files: web/ at the package root. */
const WEB = join(packageRoot(), 'web');

/** Every file under /assets/: the packaged vendor files (no CDN) and ferry's own script and stylesheet. */
const ASSETS: Readonly<Record<string, { file: () => string; type: string }>> = {
  'htmx.min.js': { file: () => require.resolve('htmx.org/dist/htmx.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.iife.min.js': { file: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript; charset=utf-8' },
  'uPlot.min.css': { file: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
  'app.js': { file: () => join(WEB, 'app.js'), type: 'text/javascript; charset=utf-8' },
  'app.css': { file: () => join(WEB, 'app.css'), type: 'text/css; charset=utf-8' },
  'favicon.svg': { file: () => join(WEB, 'favicon.svg'), type: 'image/svg+xml' },
};

const cache = new Map<string, Buffer>();

/** `GET /assets/:name`: one of {@link ASSETS}, read once and cached. */
export function mountAssets(app: ServeApp): void {
  app.get('/assets/:name', async (c) => {
    const name = c.req.param('name');
    const asset = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
    if (!asset) return problem(c, 'E_NOT_FOUND', `no such asset: ${name}`, { hint: 'the dashboard links every asset it needs' });
    let body = cache.get(name);
    if (!body) {
      body = await readFile(asset.file());
      cache.set(name, body);
    }
    return c.body(new Uint8Array(body), 200, { 'content-type': asset.type, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  });
}
