import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/**
 * ferry's own package folder (where its package.json, bin/ and web/ are), found by walking up from this
 * module: the same answer from src/ (tests), dist/ (the library) and dist/bundle/ (the CLI's one-file build).
 */
export function packageRoot(): string {
  if (root) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && (JSON.parse(readFileSync(manifest, 'utf8')) as { name?: unknown }).name === 'ferry') {
      root = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error(`ferry's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
