import { z } from 'zod';
import { quoteIdent, quoteLiteral } from '../db/quote.js';
import { identifier } from './names.js';
import { newTypeProblems, regtype, singleSqlType, typeName, typeRef } from './type-names.js';
import type { Operation } from './types.js';

const attributeSchema = z.strictObject({
  name: identifier.describe("The attribute's name."),
  type: singleSqlType.describe("The attribute's SQL type: `text`, `numeric(12,2)`, `app.mood`."),
});

/** The fields of a `create-type` step: a composite type and its attributes. */
export const createTypeSchema = z.strictObject({
  name: typeName.describe('The new composite type: `address` or `schema.address`.'),
  attributes: z
    .array(attributeSchema)
    .min(1)
    .refine((a) => new Set(a.map((x) => x.name)).size === a.length, 'attribute names must be unique')
    .describe('Its attributes {name, type}, in order.'),
});

/** A `create-type` step's spec. */
export type CreateTypeSpec = z.infer<typeof createTypeSchema>;

/** True when composite type `name` has exactly `attributes`, in order, of the base types given (type modifiers are not compared). */
function attributesSql(spec: CreateTypeSpec): string {
  const t = typeRef(spec.name);
  const names = `ARRAY[${spec.attributes.map((a) => quoteLiteral(a.name)).join(', ')}]::name[]`;
  const types = `ARRAY[${spec.attributes.map((a) => `to_regtype(${quoteLiteral(a.type)})::oid`).join(', ')}]`;
  return `SELECT coalesce((SELECT array_agg(a.attname ORDER BY a.attnum) = ${names} AND array_agg(a.atttypid ORDER BY a.attnum) = ${types}
  FROM pg_type y JOIN pg_attribute a ON a.attrelid = y.typrelid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE y.oid = ${regtype(t)} AND y.typtype = 'c'), false)`;
}

/** Create a composite type. Nothing uses it yet, so it locks no table; rollback drops it. */
export const createType: Operation<CreateTypeSpec> = {
  name: 'create-type',
  schema: createTypeSchema,
  describe: (s) => `create composite type ${s.name} with ${s.attributes.length} attribute${s.attributes.length === 1 ? '' : 's'}`,
  expand(s) {
    const t = typeRef(s.name);
    return [
      {
        kind: 'sql',
        name: 'create-type',
        description: `create composite type ${s.name} (${s.attributes.map((a) => `${a.name} ${a.type}`).join(', ')})`,
        transaction: true,
        forward: [`CREATE TYPE ${t.sql} AS (${s.attributes.map((a) => `${quoteIdent(a.name)} ${a.type}`).join(', ')})`],
        rollback: [`DROP TYPE ${t.sql}`],
        verify: [attributesSql(s)],
        locks: [],
      },
    ];
  },
  contract: () => [],
  check: (s, schema) => newTypeProblems(schema, s.name),
  apply(s, schema) {
    // A composite type is a relation of its own (relkind c): its name is taken for tables and views.
    schema.relations.set(schema.keyOf(s.name), 'other');
  },
};
