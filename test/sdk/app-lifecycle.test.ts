import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import type { Database } from '../../src/db/database.js';
import type { Migration } from '../../src/migration/loader.js';
import { createFlags } from '../../src/sdk/index.js';
import { cleanup } from '../../src/workflow/cleanup.js';
import { contract } from '../../src/workflow/contract.js';
import { SPLIT, verifiedSplit } from '../docs/fixtures.js';
import { forEachDriver } from '../helpers/databases.js';
import { migrationsOf, testRun } from '../helpers/engine.js';
import { until } from '../helpers/process.js';
import { runFerry, type TestProject } from '../helpers/project.js';

const APP = fileURLToPath(new URL('./reader-app.mjs', import.meta.url));
const FLAG = 'split-names';

interface Totals {
  requests: number;
  newPath: number;
  oldPath: number;
  failed: number;
  errors: string[];
  warnings: string[];
}

async function ok(p: TestProject, args: string[]): Promise<string> {
  const r = await runFerry(p.root, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

const hasFullName = async (db: Database) =>
  (await db.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'full_name'`)).rows.length > 0;

/** The application in-process (PGlite has one process): the same reads as reader-app.mjs, on the SDK's `isEnabled(flag, unit, false)`. */
function inProcessApp(db: Database) {
  const warnings: string[] = [];
  const flags = createFlags({ db }, { mode: 'poll', pollIntervalMs: 20, metrics: false, onWarning: (msg) => warnings.push(msg) });
  const totals: Totals = { requests: 0, newPath: 0, oldPath: 0, failed: 0, errors: [], warnings };
  let stopping = false;
  const loop = (async () => {
    await flags.ready();
    for (let i = 0; !stopping; i++) {
      const useNew = flags.isEnabled(FLAG, `user-${i % 500}`, false);
      try {
        await db.query(useNew ? 'SELECT first_name, last_name FROM users WHERE id = $1' : 'SELECT full_name FROM users WHERE id = $1', [(i % 500) + 1]);
        if (useNew) totals.newPath++;
        else totals.oldPath++;
      } catch (err) {
        totals.failed++;
        if (totals.errors.length < 5) totals.errors.push((err as Error).message);
      }
      totals.requests++;
      await new Promise((r) => setTimeout(r, 2));
    }
    await flags.close();
  })();
  return {
    totals,
    stop: async () => {
      stopping = true;
      await loop;
      return totals;
    },
  };
}

forEachDriver('an application on the SDK through contract and cleanup', (suite) => {
  it('keeps answering the new path with a default of false, with zero failed requests while full_name is dropped, and warns once after cleanup', async () => {
    const target = await suite.fresh();
    const p = await verifiedSplit(target);
    let totals: Totals;
    if (target.kind === 'server') {
      const child = spawn(process.execPath, [APP, target.url as string, FLAG], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => {
        out += d;
      });
      const exited = new Promise<void>((r) => child.on('close', () => r()));
      try {
        await until('the app to serve', () => out.includes('ready'));
        await ok(p, ['contract', SPLIT]);
        await ok(p, ['cleanup', SPLIT, '--force', '--reason', 'test: the app reads the new path']);
        // Keep serving well past cleanup: the tombstone reaches the app by notification or by its 200 ms refresh.
        const db = await target.open();
        try {
          expect(await hasFullName(db)).toBe(false);
        } finally {
          await db.close();
        }
        await new Promise((r) => setTimeout(r, 1500));
      } finally {
        child.kill('SIGTERM');
        await exited;
      }
      const line = out.split('\n').find((l) => l.startsWith('done '));
      if (!line) throw new Error(`the app did not report:\n${out}`);
      totals = JSON.parse(line.slice(5)) as Totals;
    } else {
      const ms = await migrationsOf(p);
      const m = ms.find((x) => x.id === SPLIT) as Migration;
      const db = await target.open();
      try {
        const app = inProcessApp(db);
        await until('the app to serve', () => app.totals.requests > 0);
        const dir = mkdtempSync(join(tmpdir(), 'ferry-backups-'));
        await contract(db, m, { ...testRun, backup: { dir } });
        expect(await hasFullName(db)).toBe(false);
        await cleanup(db, m, {
          run: testRun,
          lockWaitMs: 10_000,
          backupDir: dir,
          migrationsDir: join(p.root, 'migrations'),
          force: { reason: 'test' },
        });
        const after = app.totals.requests;
        await until('the app to read past cleanup', () => app.totals.requests > after + 100);
        totals = await app.stop();
      } finally {
        await db.close();
      }
    }
    expect(totals.errors).toEqual([]);
    expect(totals.failed).toBe(0);
    expect(totals.oldPath).toBe(0);
    expect(totals.newPath).toBeGreaterThan(100);
    expect(totals.warnings).toHaveLength(1);
    expect(totals.warnings[0]).toContain(`"${FLAG}" graduated with ${SPLIT}`);
  }, 600_000);
});
