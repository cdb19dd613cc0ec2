import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAll } from '../../src/migration/loader.js';
import type { AppliedStep } from '../../src/state/store.js';
import { viewOf } from '../../src/workflow/plan-state.js';

/**
 * Migrations applied by the ferry that generated one `BEFORE INSERT OR UPDATE`
 * sync trigger (before the compiled triggers) and backfilled with a fixed
 * sleepRatio 0.2 (before pacing) must not read as edited now that the same
 * operations compile to other SQL and backfills have other defaults. What that
 * ferry recorded for each step that changed: [checksum, definition body,
 * rollback, verify], taken from it (commit 629c702) for the manifests below.
 */
const RECORDED: Record<string, [string, string, string, string]> = {
  '0001_split/split.sync-trigger': [
    'cfe806deb13323675c0c2c24035ad0843f407f52f3125825712f966e8f7bea59',
    '6c4ebaad20ee5270fc1a15d9d4447f96ac67517f39b608d3aeb0936cee6aa922',
    '162a18c27982bfcdeeec9c3c100f3f8f37e3c82268969f9a81a5e662a383df0b',
    '99005fc44cd11a94c621bee65f50e7b5f0a2f84288c614a50a3662d26eb0eca8',
  ],
  '0001_split/split.drop-old-column': [
    'f4163add595eb8ce0d2bfdda409689a8c8a648ce8e449d4322a9c640fa349567',
    'f7ca3286b5eabf184173488228653f831fa3bc05af1c799c3eeb2f4d456645e5',
    'a5a4b822da1a6d03dd103ca02ccbe3c14116587420b13acfed49bde362d66896',
    '696c34ecf6f54184569a0d34b2e43b7b24986846b0a1c57c0fd4439140da35c8',
  ],
  '0002_retype/retype.sync-trigger': [
    '61d0ccf78a61629dc9d61e14d3800f62c9a450597d2dab6d13ff0a4ffe15a532',
    '422edac72140ddf343139f12703f4a60f8ca1408dde3e89e53b7002d66542dc3',
    '7cb37b1dd85f63dce50533e57c9c0a1b15ffddacaa1e0aeb1470bdb50f4f9849',
    'd539e32b3aafcd0654af252c974b6d4626ecb17932d197e5482b60da23fc702c',
  ],
  '0002_retype/retype.swap-columns': [
    'a6e59665dec0b0ca0bc70804d92d41ce456798d2f954c765ba0493df4f3de163',
    '980c39730e89a2b7269e2250420fc8f7c8ec072afc8eb38891d71d1b55d3181b',
    'a5a4b822da1a6d03dd103ca02ccbe3c14116587420b13acfed49bde362d66896',
    'f8ac9854d4900c713f926853b10322891a951fc78bf363d7bd7522b19e31b0a4',
  ],
  '0003_both/split.sync-trigger': [
    'cfe806deb13323675c0c2c24035ad0843f407f52f3125825712f966e8f7bea59',
    '6c4ebaad20ee5270fc1a15d9d4447f96ac67517f39b608d3aeb0936cee6aa922',
    '162a18c27982bfcdeeec9c3c100f3f8f37e3c82268969f9a81a5e662a383df0b',
    '99005fc44cd11a94c621bee65f50e7b5f0a2f84288c614a50a3662d26eb0eca8',
  ],
  '0003_both/retype.sync-trigger': [
    '0d367062760d8f05a023101eda00a888258d124aca70c82b7375ea2b0bed7d4b',
    '2522736121e72b394bc1d616659dec883506df7f9a951149406d6351087d868a',
    '570f24109929eea5cf45cc9ea4dfa1d667025c976a9a909243a6f2fa454cf511',
    '3c2adc109b3494a3c88810c25c9e59a76318f71e2e7b7de9fe3fd7934cbb96ee',
  ],
  '0003_both/retype.drop-old-shape': [
    'f0f021367eea77013c665c8723ff9ff6ca85d696e97cd6c029eb3429ec090401',
    '598397b1ace7a814b6ab4e4fc913aaf9bc2665d0b9153f879a487c8357894d96',
    'a5a4b822da1a6d03dd103ca02ccbe3c14116587420b13acfed49bde362d66896',
    'c13e61b2d95c8917158e5d07b26cc7fdd5bc4e24339655d297b6d2f04b485e0c',
  ],
  '0001_split/split.backfill': [
    '263756720d448b349b796ed78b593e4e0877b2ff138c8ceb438aeb50d3126d5b',
    '7640b0beab6ff1877a967cbdd8051cc93150b567f0750523cef622f6ec536855',
    '39f61b80ec5d4a4380a6815b55e8edd0953cc985c6e3103efa9fee61e15e6ee4',
    '48818a2747944f9b63ffef3bb72ec50a20aabc2e2bac1f730ec3b198b51c85ad',
  ],
  '0002_retype/retype.backfill': [
    '619368ab11612416f598c7dec8d7a9c5a21ff15ef62b3da56ae8144df5e434b0',
    '12d0682d429194e6e495e6ca7ef2172c5ad4412813be512fc8a5d862dc5e73a9',
    '39f61b80ec5d4a4380a6815b55e8edd0953cc985c6e3103efa9fee61e15e6ee4',
    '48818a2747944f9b63ffef3bb72ec50a20aabc2e2bac1f730ec3b198b51c85ad',
  ],
  '0003_both/split.backfill': [
    '263756720d448b349b796ed78b593e4e0877b2ff138c8ceb438aeb50d3126d5b',
    '7640b0beab6ff1877a967cbdd8051cc93150b567f0750523cef622f6ec536855',
    '39f61b80ec5d4a4380a6815b55e8edd0953cc985c6e3103efa9fee61e15e6ee4',
    '48818a2747944f9b63ffef3bb72ec50a20aabc2e2bac1f730ec3b198b51c85ad',
  ],
  '0003_both/retype.backfill': [
    '619368ab11612416f598c7dec8d7a9c5a21ff15ef62b3da56ae8144df5e434b0',
    '12d0682d429194e6e495e6ca7ef2172c5ad4412813be512fc8a5d862dc5e73a9',
    '39f61b80ec5d4a4380a6815b55e8edd0953cc985c6e3103efa9fee61e15e6ee4',
    '48818a2747944f9b63ffef3bb72ec50a20aabc2e2bac1f730ec3b198b51c85ad',
  ],
  '0004_fill/fill': [
    '23acac0abec815ac3f90c5a49848ed9585660d1967d3697ed471bb4377a8824c',
    '81bcea0f9bbbce08943bbdb0bb5d2a2a7757831fd9044f95f77ccae6ca581eb8',
    '9031751adad171745214db12f9c1efeb39ce3811c121eb206a0fdf326267f6b5',
    '48818a2747944f9b63ffef3bb72ec50a20aabc2e2bac1f730ec3b198b51c85ad',
  ],
  '0005_fill_slow/fill': [
    '7a9eb673beada532e6a9c797f3fa2e5f2df6be95fca276e84a252f544b2255a7',
    '0168180ac4a8b7e38362dda980eb3b0eeb0e95b75e9032a2d8c2c67a5f46881e',
    '9031751adad171745214db12f9c1efeb39ce3811c121eb206a0fdf326267f6b5',
    '48818a2747944f9b63ffef3bb72ec50a20aabc2e2bac1f730ec3b198b51c85ad',
  ],
};

const SPLIT = {
  id: 'split',
  kind: 'op',
  op: 'split-column',
  table: 'people',
  column: 'full_name',
  into: { first_name: { type: 'text', expr: "split_part(full_name, ' ', 1)" }, last_name: { type: 'text', expr: "split_part(full_name, ' ', 2)" } },
  merge: "first_name || ' ' || last_name",
};
const RETYPE = {
  id: 'retype',
  kind: 'op',
  op: 'change-type',
  table: 'people',
  column: 'amount',
  type: 'bigint',
  using: 'amount::bigint * 100',
  reverse: '(amount / 100)::int',
};
/** A backfill step written in the manifest: with ferry's default sleepRatio, and with one its author wrote. */
const FILL = { id: 'fill', kind: 'backfill', table: 'people', set: { nick: 'lower(full_name)' }, where: 'nick IS NULL', rollback: { nick: 'NULL' } };
const MIGRATIONS: Record<string, Record<string, unknown>[]> = {
  '0001_split': [SPLIT],
  '0002_retype': [RETYPE],
  '0003_both': [SPLIT, RETYPE],
  '0004_fill': [FILL],
  '0005_fill_slow': [{ ...FILL, sleepRatio: 0.5 }],
};

async function load(edit: (id: string, steps: Record<string, unknown>[]) => Record<string, unknown>[] = (_, s) => s) {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-previous-'));
  for (const [id, steps] of Object.entries(MIGRATIONS)) {
    mkdirSync(join(dir, id));
    const manifest = { title: id, summary: 'sync trigger', type: 'schema-destructive', strategy: 'big-bang', steps: edit(id, steps) };
    writeFileSync(join(dir, id, 'migration.json'), JSON.stringify(manifest));
  }
  return loadAll(dir);
}

/** Every step of `m` applied (contract too), each recorded as the earlier ferry did where its SQL changed since; `definitions` false: checksums only. */
function applied(m: Awaited<ReturnType<typeof load>>[number], definitions = true): AppliedStep[] {
  return m.steps.map((s, position) => {
    const r = RECORDED[`${m.id}/${s.id}`];
    const definition = r ? { body: r[1], rollback: r[2], verify: r[3] } : s.definition;
    return {
      migrationId: m.id,
      stepId: s.id,
      position,
      checksum: r ? r[0] : s.checksum,
      appliedAt: new Date(),
      appliedBy: 'test',
      durationMs: 1,
      baseline: false,
      definition: definitions ? definition : null,
      rollback: null,
      irreversible: null,
      phase: null,
    };
  });
}

describe('steps applied with the SQL an earlier ferry generated', () => {
  it('are not edits, with definitions recorded or only forward checksums', async () => {
    const migrations = await load();
    for (const m of migrations) {
      const changed = m.steps.filter((s) => RECORDED[`${m.id}/${s.id}`]);
      // The SQL did change: each such step's definition now differs from the recorded one.
      expect(changed.map((s) => s.definition.body === RECORDED[`${m.id}/${s.id}`]?.[1])).toEqual(changed.map(() => false));
      expect(viewOf(m, undefined, applied(m)).drift, m.id).toEqual([]);
      expect(viewOf(m, undefined, applied(m, false)).drift, m.id).toEqual([]);
    }
    expect(Object.keys(RECORDED).every((k) => migrations.some((m) => m.steps.some((s) => `${m.id}/${s.id}` === k)))).toBe(true);
  });

  it('an edit of the operation as written is still an edit', async () => {
    const edited = await load((id, steps) => (id === '0001_split' ? [{ ...SPLIT, merge: "first_name || ', ' || last_name" }] : steps));
    const m = edited.find((x) => x.id === '0001_split');
    if (!m) throw new Error('0001_split not loaded');
    const drift = viewOf(m, undefined, applied(m)).drift;
    expect(drift).toContainEqual(expect.objectContaining({ stepId: 'split.sync-trigger', kind: 'edited' }));
    expect(viewOf(m, undefined, applied(m, false)).drift).toContainEqual(expect.objectContaining({ stepId: 'split.sync-trigger', kind: 'edited' }));
  });

  it("a backfill's edited expression, or a sleepRatio written where the default was, is an edit", async () => {
    const edited = await load((id, steps) =>
      id === '0004_fill' ? [{ ...FILL, set: { nick: 'upper(full_name)' } }] : id === '0005_fill_slow' ? [{ ...FILL, sleepRatio: 0.2 }] : steps,
    );
    for (const id of ['0004_fill', '0005_fill_slow']) {
      const m = edited.find((x) => x.id === id);
      if (!m) throw new Error(`${id} not loaded`);
      expect(viewOf(m, undefined, applied(m)).drift, id).toContainEqual(expect.objectContaining({ stepId: 'fill', kind: 'edited' }));
    }
  });
});
