import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { configJsonSchema, manifestJsonSchema } from '../../src/migration/json-schema.js';
import { type AppGuidance, guidanceLines, guidanceOf } from '../../src/workflow/app-guidance.js';
import { SPLIT, splitProject } from '../docs/fixtures.js';
import { forEachDriver } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

type Guided = AppGuidance & { phase: string };
interface StatusJson {
  migrations: { id: string; phase: string | null; guidance: Guided }[];
}

async function ok(cwd: string, args: string[]): Promise<string> {
  const r = await runFerry(cwd, args);
  expect(r.code, `ferry ${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

describe('ferry schema', () => {
  it('prints the JSON Schema of migration.json; --output writes it; --config gives that of ferry.config.json', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-schema-'));
    expect(JSON.parse(await ok(dir, ['schema']))).toEqual(manifestJsonSchema());
    expect((await runFerryJson(dir, ['schema', '--config'])).json).toEqual(configJsonSchema());
    const wrote = await runFerryJson<{ file: string; schema: string }>(dir, ['schema', '--output', 'out/migration.schema.json']);
    expect(wrote.json).toEqual({ file: 'out/migration.schema.json', schema: 'manifest' });
    expect(JSON.parse(readFileSync(join(dir, 'out/migration.schema.json'), 'utf8'))).toEqual(manifestJsonSchema());
    expect(await ok(dir, ['schema', '--config', '--output', 'config.schema.json'])).toContain('wrote config.schema.json');
    expect(JSON.parse(readFileSync(join(dir, 'config.schema.json'), 'utf8'))).toEqual(configJsonSchema());
    const help = await ok(dir, ['schema', '--help']);
    expect(help).toContain('Usage: ferry schema');
    expect(help).toContain('Examples:');
    expect((await runFerry(dir, ['schema', '--outptu', 'x.json'])).code).toBe(2);
  });

  it('ferry init and ferry new write migrations/migration.schema.json, and the new manifest names it as "$schema" and loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ferry-schema-'));
    await ok(dir, ['init']);
    expect(JSON.parse(readFileSync(join(dir, 'migrations/migration.schema.json'), 'utf8'))).toEqual(manifestJsonSchema());
    const created = await runFerryJson<{ id: string; dir: string }>(dir, ['new', 'split_full_name', '--type', 'data-format', '--strategy', 'incremental']);
    const manifest = JSON.parse(readFileSync(join(created.json.dir, 'migration.json'), 'utf8')) as Record<string, unknown>;
    expect(manifest.$schema).toBe('../migration.schema.json');
    expect(existsSync(join(created.json.dir, '../migration.schema.json'))).toBe(true);
    expect(readdirSync(join(dir, 'migrations')).sort()).toEqual([created.json.id, 'migration.schema.json'].sort());
    writeFileSync(join(created.json.dir, 'change.up.sql'), 'CREATE TABLE t (id int);\n');
    writeFileSync(join(created.json.dir, 'change.down.sql'), 'DROP TABLE t;\n');
    writeFileSync(join(created.json.dir, 'change.verify.sql'), "SELECT to_regclass('t') IS NOT NULL;\n");
    await ok(dir, ['up']);
    const s = await runFerryJson<StatusJson>(dir, ['status', 'split_full_name']);
    expect(s.json.migrations.map((m) => [m.id, m.phase])).toEqual([[created.json.id, 'expanded']]);
  });
});

forEachDriver('the application guidance of ferry status and ferry rollout status', (suite) => {
  it("ferry status <id> and ferry rollout <id> status print the phase's line of docs/lifecycle.md; --json carries it as guidance", async () => {
    const p = createProject(await suite.fresh());
    splitProject(p);
    await ok(p.root, ['up']);

    // Backfilled: both shapes live, the new version deployed dark; the next gate is the rollout.
    const backfilled = guidanceOf('backfilled', SPLIT);
    const s1 = await runFerryJson<StatusJson>(p.root, ['status', SPLIT]);
    expect(s1.json.migrations).toHaveLength(1);
    expect(s1.json.migrations[0]?.guidance).toEqual(backfilled);
    const text1 = await ok(p.root, ['status', SPLIT]);
    for (const l of guidanceLines(backfilled)) expect(text1).toContain(l);
    expect(text1).toContain(`next gate: \`ferry rollout ${SPLIT} set <pct>\``);

    // Without an id every migration in flight shows its own line.
    const all = await runFerryJson<StatusJson>(p.root, ['status']);
    expect(all.json.migrations.map((m) => [m.id, m.guidance.phase])).toEqual([
      ['0001_users', 'expanded'],
      [SPLIT, 'backfilled'],
    ]);
    expect(await ok(p.root, ['status'])).toContain(guidanceLines(guidanceOf('expanded', '0001_users'))[0]);

    // Canary: the rollout status says who runs what and that old-version instances are still allowed.
    await ok(p.root, ['rollout', SPLIT, 'set', '50']);
    const canary = guidanceOf('canary', SPLIT);
    const r = await runFerryJson<{ phase: string; guidance: Guided }>(p.root, ['rollout', SPLIT, 'status']);
    expect(r.json.phase).toBe('canary');
    expect(r.json.guidance).toEqual(canary);
    const text2 = await ok(p.root, ['rollout', SPLIT, 'status']);
    for (const l of guidanceLines(canary)) expect(text2).toContain(l);
    expect(text2).toContain('old-version instances still allowed');
    expect((await runFerryJson<StatusJson>(p.root, ['status', SPLIT])).json.migrations[0]?.guidance.phase).toBe('canary');
  });

  it('ferry status with an unknown id is refused (exit 5), naming it', async () => {
    const p = createProject(await suite.fresh());
    splitProject(p);
    const r = await runFerry(p.root, ['status', 'no_such_migration']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('no_such_migration');
  });
});
