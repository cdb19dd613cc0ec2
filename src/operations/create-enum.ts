import { z } from 'zod';
import { quoteLiteral } from '../db/quote.js';
import { enumLabel, enumLabelsSql, labelArray, newTypeProblems, typeName, typeRef } from './type-names.js';
import type { Operation } from './types.js';

/** The fields of a `create-enum` step. */
export const createEnumSchema = z.strictObject({
  name: typeName.describe('The new enum type: `mood` or `schema.mood`.'),
  values: z
    .array(enumLabel)
    .min(1)
    .refine((v) => new Set(v).size === v.length, 'enum values must be unique')
    .describe('Its labels, in their sort order; each 1 to 63 bytes, no two alike.'),
});

/** A `create-enum` step's spec. */
export type CreateEnumSpec = z.infer<typeof createEnumSchema>;

/** Create an enum type. It is a new catalog object that nothing uses yet, so it locks no table; rollback drops it. */
export const createEnum: Operation<CreateEnumSpec> = {
  name: 'create-enum',
  schema: createEnumSchema,
  describe: (s) => `create enum type ${s.name} (${s.values.length} value${s.values.length === 1 ? '' : 's'})`,
  expand(s) {
    const t = typeRef(s.name);
    return [
      {
        kind: 'sql',
        name: 'create-enum',
        description: `create enum type ${s.name} with ${s.values.map(quoteLiteral).join(', ')}`,
        transaction: true,
        forward: [`CREATE TYPE ${t.sql} AS ENUM (${s.values.map(quoteLiteral).join(', ')})`],
        rollback: [`DROP TYPE ${t.sql}`],
        verify: [`SELECT coalesce(${enumLabelsSql(t)} = ${labelArray(s.values)}, false)`],
        locks: [],
      },
    ];
  },
  contract: () => [],
  check: (s, schema) => newTypeProblems(schema, s.name),
};
