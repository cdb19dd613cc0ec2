import { configJsonSchema, type JsonSchema, MANIFEST_SCHEMA_FILE, manifestJsonSchema } from '../migration/json-schema.js';
import { table } from './markdown.js';

/** One row of a field table: a field's path, type, whether it is required, its default and description. */
export interface FieldRow {
  path: string;
  type: string;
  /** `variant`: required in the form (one object of a union) that has it. */
  required: boolean | 'variant';
  default: string;
  description: string;
}

const isObject = (v: unknown): v is JsonSchema => v !== null && typeof v === 'object' && !Array.isArray(v);
const variantsOf = (s: JsonSchema): JsonSchema[] => ((s.oneOf ?? s.anyOf) as JsonSchema[] | undefined) ?? [];

/** A short type for people: `string`, `"sql"`, `"a" | "b"`, `string[]`, `object`, `name → string`. */
export function typeOf(s: JsonSchema): string {
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (Array.isArray(s.enum)) return s.enum.map((e) => JSON.stringify(e)).join(' | ');
  const variants = variantsOf(s);
  if (variants.length) return [...new Set(variants.map(typeOf))].join(' | ');
  if (s.type === 'array') return isObject(s.items) ? `${wrap(typeOf(s.items))}[]` : 'array';
  if (s.type === 'object' && !isObject(s.properties) && isObject(s.additionalProperties)) {
    const keys = isObject(s.propertyNames) && Array.isArray(s.propertyNames.enum) ? typeOf(s.propertyNames) : 'name';
    return `${wrap(keys)} → ${typeOf(s.additionalProperties)}`;
  }
  return typeof s.type === 'string' ? s.type : 'any';
}

const wrap = (t: string) => (t.includes(' ') ? `(${t})` : t);

/**
 * The rows of every field under `s`, depth first: an object's properties as
 * `a.b`, an array's items as `a[].b`, a map's values as `a.<name>.b`, and each
 * object variant of a union under the same prefix (first row per path wins).
 * `stop` names paths whose children are documented elsewhere.
 */
export function fieldRows(s: JsonSchema, prefix = '', stop: readonly string[] = [], rows: FieldRow[] = [], variant = false): FieldRow[] {
  const props = isObject(s.properties) ? s.properties : {};
  const required = new Set((s.required as string[] | undefined) ?? []);
  const needed = (name: string): FieldRow['required'] => (required.has(name) ? (variant ? 'variant' : true) : false);
  for (const [name, value] of Object.entries(props)) {
    if (!isObject(value)) continue;
    const path = `${prefix}${name}`;
    const seen = rows.find((r) => r.path === path);
    // Variants of a union may share a field under different types: list every type once.
    if (seen && !seen.type.split(' | ').includes(typeOf(value))) {
      // A discriminator (`kind`) says what each of its values means.
      if (value.const !== undefined && typeof value.description === 'string') {
        const bare = (d: string) => d.replace(/\.$/, '');
        const first = seen.type.includes(' | ') ? seen.description : `${seen.type}: ${bare(seen.description)}`;
        seen.description = `${first}; ${typeOf(value)}: ${bare(value.description)}`;
      }
      seen.type = `${seen.type} | ${typeOf(value)}`;
    }
    if (!seen) {
      rows.push({
        path,
        type: typeOf(value),
        required: needed(name),
        default: value.default === undefined ? '' : JSON.stringify(value.default),
        description: typeof value.description === 'string' ? value.description : '',
      });
    }
    if (!stop.includes(path)) childRows(value, path, stop, rows);
  }
  return rows;
}

function childRows(s: JsonSchema, path: string, stop: readonly string[], rows: FieldRow[], variant = false): void {
  if (isObject(s.properties)) fieldRows(s, `${path}.`, stop, rows, variant);
  else if (s.type === 'object' && isObject(s.additionalProperties)) childRows(s.additionalProperties, `${path}.<name>`, stop, rows);
  if (isObject(s.items)) childRows(s.items, `${path}[]`, stop, rows);
  const variants = variantsOf(s);
  const forms = variants.filter((v) => isObject(v.properties)).length;
  for (const v of variants) childRows(v, path, stop, rows, forms > 1);
}

/** A Markdown field table of `rows`. */
export function fieldTable(rows: readonly FieldRow[]): string {
  const required = (r: FieldRow) => (r.required === 'variant' ? 'in its form' : r.required ? 'yes' : 'no');
  const body = rows.map((r) => [`\`${r.path}\``, r.type, required(r), r.default ? `\`${r.default}\`` : '', r.description]);
  return table(['field', 'type', 'required', 'default', 'meaning'], body).join('\n');
}

/** The variants of a union of objects told apart by `kind` (and `op`), with their heading names. */
function kinds(s: JsonSchema): { name: string; schema: JsonSchema }[] {
  return variantsOf(s).map((v) => {
    const p = (v.properties ?? {}) as Record<string, JsonSchema>;
    const op = p.op?.const;
    return { name: op === undefined ? `"kind": ${JSON.stringify(p.kind?.const)}` : `"op": ${JSON.stringify(op)}`, schema: v };
  });
}

const INTRO = `# The manifest reference

<!-- Generated from the zod schemas by \`npm run docs:generate\`; do not edit by hand.
     test/docs/manifest-reference.test.ts fails when this file and the schemas disagree. -->

A migration folder holds \`migration.json\` (or \`migration.ts\` whose default export is
the same object, typed by \`defineMigration\`). Every field below is checked when the
migration loads; a problem is reported with file and field (exit 4). The same schema
is available as JSON Schema: \`ferry schema\` prints it, \`ferry schema --output ${MANIFEST_SCHEMA_FILE}\`
writes it, and \`ferry init\` / \`ferry new\` write \`migrations/${MANIFEST_SCHEMA_FILE}\` and put
\`"$schema": "../${MANIFEST_SCHEMA_FILE}"\` in each new manifest, so editors complete and check
the fields. \`ferry schema --config\` prints the schema of \`ferry.config.json\`.

Durations in a manifest (\`hold\`, \`interval\`, \`window\`, \`timeline\`, \`deprecationPeriod\`)
are whole numbers with a unit — \`s\`, \`m\` or \`min\`, \`h\`, \`d\` — concatenated without
spaces: \`30s\`, \`15min\`, \`24h\`, \`1h30m\`, \`90d\`. What each lifecycle phase means for the
application is in [lifecycle.md](lifecycle.md).`;

const ROLLOUT = `## Rollout stages

\`rollout.stages\` is an array of \`{ "percent": number, "hold": duration }\`, in order:

\`\`\`json
"rollout": { "stages": [
  { "percent": 1, "hold": "2h" }, { "percent": 5, "hold": "24h" }, { "percent": 25, "hold": "24h" },
  { "percent": 50, "hold": "24h" }, { "percent": 100, "hold": "24h" }
] }
\`\`\`

- \`percent\` is the share of units (users, tenants … whatever the application passes as
  the unit) on the new path: 0.01 to 100, at most two decimals. Percentages strictly
  increase and the last is exactly 100. Bucketing is sticky: a unit inside at 5 % stays
  inside at 25 %.
- \`hold\` is how long the stage is held before the next (\`ferry rollout <id> advance\`
  refuses earlier unless \`--now --reason\`; the controller of \`ferry rollout <id> run\`
  promotes only after a green hold).
- The first stage is the canary phase, the stages between are rolling, 100 % is
  rolled-out. Without \`rollout\` the schedule is 5, 25, 50, 75, 100 %, each held 24 h.
  \`rollout\` and \`health\` need a \`flag\`.`;

const COMPAT = `## Compat views freeze the column list

The expand/contract operations publish each shape as a view (\`ferry_v1_<table>\`,
\`ferry_v2_<table>\`, or the names in the step's \`compat\` field). PostgreSQL expands a
view's column list when the view is created: a column added to the table **later** — by
another migration, or by hand — does not appear in the views, so an application that
reads and writes through them does not see it, and an INSERT through a view cannot set it
(it gets its default). Either:

- add the column in the **same** migration, before the operation that publishes the views
  (operations on one table compose, and the views are created last), or
- wait until the migration is contracted (the views are gone and the \`search_path\` falls
  through to the table) before adding it, or
- recreate the views in a follow-up migration (a \`raw-sql\` step that runs
  \`CREATE OR REPLACE VIEW\` with the new column appended at the end, and its old
  definition as rollback).

See [operations.md](operations.md).`;

/** docs/manifest.md: the field tables of `migration.json` and `ferry.config.json`, generated from the JSON Schemas. */
export function manifestReference(): string {
  const m = manifestJsonSchema();
  const props = m.properties as Record<string, JsonSchema>;
  const steps = kinds(props.steps?.items as JsonSchema);
  const checks = kinds(props.checks?.items as JsonSchema);
  const stepTables = steps.map(({ name, schema }) => {
    const rows = fieldRows(schema);
    const own = name.startsWith('"op"') ? rows.filter((r) => !['id', 'kind', 'op', 'description'].includes(r.path)) : rows;
    return `### ${name}${name === '"kind": "sql"' ? ' (the default)' : ''}\n\n${fieldTable(own)}`;
  });
  const opCommon = steps.find((s) => s.name.startsWith('"op"'));
  return [
    INTRO,
    '## Fields',
    fieldTable(fieldRows(m, '', ['steps', 'checks'])),
    ROLLOUT,
    '## Steps',
    "Each step is one object of `steps`, told apart by `kind`; an `op` step also by `op`. Every `op` step has these fields besides its operation's own:",
    opCommon ? fieldTable(fieldRows(opCommon.schema).filter((r) => ['id', 'kind', 'op', 'description'].includes(r.path))) : '',
    ...stepTables,
    '## Checks',
    'Each check is one object of `checks`, told apart by `kind` (see [verify.md](verify.md)).',
    ...checks.map(({ name, schema }) => `### ${name}\n\n${fieldTable(fieldRows(schema))}`),
    COMPAT,
    '## ferry.config.json',
    fieldTable(fieldRows(configJsonSchema())),
  ]
    .filter(Boolean)
    .join('\n\n')
    .concat('\n');
}
