// The CLI as one file: dist/bundle/cli.mjs, built from tsc's dist/cli/main.js after `tsc`.
// A command's start is mostly module loading: about 400 files of ferry and its libraries cost Node 0.45 s
// before any work (`ferry --help`); one file costs 0.25 s. The library (dist/index.js) stays as tsc wrote it.
//
// Left outside the file: packages that find their own files next to themselves at run time (PGlite's and
// libpg-query's WebAssembly, jiti's compiler), and the optional ones only `ferry import` loads.
import { rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist', 'bundle');
rmSync(outdir, { recursive: true, force: true });

await build({
  entryPoints: { cli: join(root, 'dist', 'cli', 'main.js') },
  outdir,
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['@electric-sql/pglite', '@electric-sql/pglite/*', 'libpg-query', 'jiti', 'knex', 'knex/*', 'node-pg-migrate', 'pg-native'],
  // CommonJS libraries inside an ES module call require(): give them the real one.
  banner: { js: "import { createRequire as __ferryRequire } from 'node:module'; const require = __ferryRequire(import.meta.url);" },
  legalComments: 'linked',
  logLevel: 'warning',
});
