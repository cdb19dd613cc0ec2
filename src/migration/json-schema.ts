import { z } from 'zod';
import { OPERATIONS } from '../operations/index.js';
import { configSchema } from '../project/config.js';
import { manifestSchema } from './manifest.js';

/** A JSON Schema document or subschema, as plain JSON. */
export type JsonSchema = { [key: string]: unknown };

/** Where `ferry init` and `ferry new` put the manifest's JSON Schema, relative to the migrations folder. */
export const MANIFEST_SCHEMA_FILE = 'migration.schema.json';

const OPTIONS = { io: 'input', unrepresentable: 'any', target: 'draft-2020-12' } as const;

const isObject = (v: unknown): v is JsonSchema => v !== null && typeof v === 'object' && !Array.isArray(v);
const kindOf = (s: JsonSchema): unknown => (isObject(s.properties) && isObject(s.properties.kind) ? s.properties.kind.const : undefined);

/** One operation's step: the op step's common fields with the operation's own fields. */
function operationStep(common: JsonSchema, op: (typeof OPERATIONS)[number]): JsonSchema {
  const own = z.toJSONSchema(op.schema, OPTIONS) as JsonSchema;
  const props = isObject(common.properties) ? common.properties : {};
  const opField = isObject(props.op) ? props.op : {};
  return {
    type: 'object',
    description: `Step \`"op": "${op.name}"\` (docs/operations.md).`,
    properties: { ...props, op: { ...opField, const: op.name }, ...(isObject(own.properties) ? own.properties : {}) },
    required: [...new Set(['id', 'kind', 'op', ...((own.required as string[] | undefined) ?? [])])],
    additionalProperties: false,
  };
}

/**
 * The JSON Schema of `migration.json`, generated from the zod schema the loader
 * parses with (descriptions included): what `ferry schema` prints and editors
 * complete from. Two things the zod schema says in code are spelled out here: a
 * step without `kind` is an SQL step, and an `op` step takes its operation's fields.
 */
export function manifestJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(manifestSchema, OPTIONS) as JsonSchema;
  const props = schema.properties as JsonSchema;
  const steps = props.steps as JsonSchema;
  const items = steps.items as JsonSchema;
  const variants = (items.oneOf ?? items.anyOf) as JsonSchema[];
  const out: JsonSchema[] = [];
  for (const v of variants) {
    if (kindOf(v) === 'sql') out.push({ ...v, required: (v.required as string[]).filter((k) => k !== 'kind') });
    else if (kindOf(v) === 'op') out.push(...OPERATIONS.map((op) => operationStep(v, op)));
    else out.push(v);
  }
  steps.items = { oneOf: out };
  return { $schema: schema.$schema, title: 'ferry migration manifest (migration.json)', ...withoutKey(schema, '$schema') };
}

/** The JSON Schema of `ferry.config.json`, generated from the zod schema the project loader parses with. */
export function configJsonSchema(): JsonSchema {
  const schema = z.toJSONSchema(configSchema, OPTIONS) as JsonSchema;
  return { $schema: schema.$schema, title: 'ferry project configuration (ferry.config.json)', ...withoutKey(schema, '$schema') };
}

function withoutKey(s: JsonSchema, key: string): JsonSchema {
  const { [key]: _drop, ...rest } = s;
  return rest;
}

/** A JSON Schema as the file ferry writes: two-space indented, with a final newline. */
export function schemaText(schema: JsonSchema): string {
  return `${JSON.stringify(schema, null, 2)}\n`;
}
