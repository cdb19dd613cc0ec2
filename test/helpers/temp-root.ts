import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest global setup: every temporary project, PGlite directory and child
 * process of the run writes under one fresh TMPDIR, removed when the run ends,
 * so a test run leaves nothing behind in the system temp directory.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'ferry-test-run-'));
  process.env.TMPDIR = root;
  return () => rmSync(root, { recursive: true, force: true });
}
