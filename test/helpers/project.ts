import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TestTarget } from './databases.js';

/** The built CLI; `npm test` builds before running vitest ($FERRY_TEST_BIN runs another build's bin/ferry.js instead). */
export const FERRY_BIN = process.env.FERRY_TEST_BIN ?? resolve(import.meta.dirname, '../../bin/ferry.js');

/** A step to write into a test migration: its SQL files and manifest fields. */
export interface StepFiles {
  id: string;
  up: string;
  down?: string;
  verify?: string;
  transaction?: boolean;
  irreversible?: boolean;
}

/** A temporary ferry project whose `test` environment points at `target`. */
export interface TestProject {
  root: string;
  env: string;
  /** Write a migration folder; returns its id. */
  migration(id: string, steps: StepFiles[], extra?: Record<string, unknown>): string;
  /** Path of a file inside a migration. */
  file(id: string, name: string): string;
}

/** Create a project for `target` (config with an environment named `test`). */
export function createProject(target: TestTarget, config: Record<string, unknown> = {}): TestProject {
  const root = mkdtempSync(join(tmpdir(), 'ferry-proj-'));
  const env = target.kind === 'server' ? { url: target.url, requireApproval: false } : { dataDir: target.dataDir };
  writeFileSync(
    join(root, 'ferry.config.json'),
    JSON.stringify({ defaultEnv: 'test', environments: { test: env }, lockTimeout: '2s', lockRetries: 3, lockWait: '60s', ...config }, null, 2),
  );
  mkdirSync(join(root, 'migrations'));
  return {
    root,
    env: 'test',
    migration(id, steps, extra = {}) {
      const dir = join(root, 'migrations', id);
      mkdirSync(dir, { recursive: true });
      const manifest = {
        title: id,
        summary: `test migration ${id}`,
        type: 'schema-additive',
        strategy: 'big-bang',
        pointOfNoReturn: null,
        steps: steps.map((s) => ({ id: s.id, transaction: s.transaction ?? true, ...(s.irreversible ? { irreversible: true } : {}) })),
        ...extra,
      };
      writeFileSync(join(dir, 'migration.json'), JSON.stringify(manifest, null, 2));
      for (const s of steps) {
        writeFileSync(join(dir, `${s.id}.up.sql`), s.up);
        if (s.down !== undefined) writeFileSync(join(dir, `${s.id}.down.sql`), s.down);
        if (s.verify !== undefined) writeFileSync(join(dir, `${s.id}.verify.sql`), s.verify);
      }
      return id;
    },
    file: (id, name) => join(root, 'migrations', id, name),
  };
}

/** What a CLI run printed and how it exited. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run `ferry args…` in `cwd` as a real child process (as another user with `as`). */
export function runFerry(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}, as: { uid?: number; gid?: number } = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [FERRY_BIN, ...args], { cwd, ...as, env: { ...process.env, NO_COLOR: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

/** Run ferry with --json and parse its output. */
export async function runFerryJson<T = unknown>(cwd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult & { json: T }> {
  const r = await runFerry(cwd, [...args, '--json'], env);
  let json: T;
  try {
    json = JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`ferry ${args.join(' ')} did not print JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, json };
}
