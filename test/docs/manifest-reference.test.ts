import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { fieldRows, manifestReference } from '../../src/docs/manifest-reference.js';
import { configJsonSchema, type JsonSchema, manifestJsonSchema } from '../../src/migration/json-schema.js';
import { manifestSchema } from '../../src/migration/manifest.js';
import { defaultConfig } from '../../src/project/scaffold.js';
import { splitManifest } from './fixtures.js';

const PAGE = resolve(import.meta.dirname, '../../docs/manifest.md');

/** Every field row of a schema, the object variants of its unions (steps, checks) included. */
function allRows(s: JsonSchema) {
  const rows = fieldRows(s);
  const props = s.properties as Record<string, JsonSchema>;
  for (const name of ['steps', 'checks']) {
    const items = props[name]?.items as JsonSchema | undefined;
    for (const v of (items?.oneOf ?? []) as JsonSchema[]) rows.push(...fieldRows(v, `${name}[].`));
  }
  return rows;
}

describe('docs/manifest.md and the manifest schema', () => {
  it('docs/manifest.md is exactly what the schemas generate (run `npm run docs:generate` when this fails)', () => {
    expect(readFileSync(PAGE, 'utf8')).toBe(manifestReference());
  });

  it('every field of migration.json and ferry.config.json has a description', () => {
    const undescribed = [...allRows(manifestJsonSchema()), ...fieldRows(configJsonSchema())].filter((r) => !r.description).map((r) => r.path);
    expect(undescribed).toEqual([]);
  });

  it('documents plan, checks, health, rollout (with its stages format), lint and what acts on flag', () => {
    const doc = manifestReference();
    for (const field of ['plan', 'checks', 'health', 'rollout', 'rollout.stages', 'rollout.stages[].percent', 'rollout.stages[].hold', 'lint', 'flag'])
      expect(doc).toContain(`| \`${field}\` |`);
    expect(doc).toContain('## Rollout stages');
    expect(doc).toMatch(/`flag` \| string \| no \| {2}\| .*`ferry rollout`.*graduates/);
    expect(doc).toContain('## Compat views freeze the column list');
  });

  it('the JSON Schema accepts what the loader accepts and refuses unknown fields, steps and operations', () => {
    const json = z.fromJSONSchema(manifestJsonSchema());
    const split = splitManifest();
    expect(manifestSchema.safeParse(split).success).toBe(true);
    expect(json.safeParse(split).success).toBe(true);
    expect(json.safeParse({ ...split, $schema: '../migration.schema.json' }).success).toBe(true);
    // A step without kind is an SQL step.
    expect(json.safeParse({ ...split, steps: [{ id: 'change' }] }).success).toBe(true);
    expect(json.safeParse({ ...split, flg: 'x' }).success).toBe(false);
    const op = (split.steps as Record<string, unknown>[])[0] as Record<string, unknown>;
    expect(json.safeParse({ ...split, steps: [{ ...op, tabel: 'users' }] }).success).toBe(false);
    expect(json.safeParse({ ...split, steps: [{ ...op, op: 'split-columns' }] }).success).toBe(false);
    expect(json.safeParse({ ...split, rollout: { stages: [{ percent: 5 }] } }).success).toBe(false);
    expect(z.fromJSONSchema(configJsonSchema()).safeParse(defaultConfig()).success).toBe(true);
  });
});
