import { z } from 'zod';
import { quoteLiteral } from '../db/quote.js';
import { enumLabel, regtype, typeName, typeRef } from './type-names.js';
import type { Operation } from './types.js';

/** The fields of an `add-enum-value` step: the label goes last, or `before` or `after` an existing one. */
export const addEnumValueSchema = z
  .strictObject({
    type: typeName.describe('The enum type: `mood` or `schema.mood`.'),
    value: enumLabel.describe('The new label, 1 to 63 bytes.'),
    before: enumLabel.optional().describe('An existing label the new one sorts just before; give `before` or `after`, or neither (last).'),
    after: enumLabel.optional().describe('An existing label the new one sorts just after; give `before` or `after`, or neither (last).'),
  })
  .refine((s) => s.before === undefined || s.after === undefined, { message: 'give `before` or `after`, not both', path: ['after'] })
  .refine((s) => s.value !== (s.before ?? s.after), { message: 'the new value cannot be placed relative to itself', path: ['value'] });

/** An `add-enum-value` step's spec. */
export type AddEnumValueSpec = z.infer<typeof addEnumValueSchema>;

/** An SQL expression: the sort position of label `label` of the enum whose oid is `oid`. */
const sortOrder = (oid: string, label: string) => `(SELECT enumsortorder FROM pg_enum WHERE enumtypid = ${oid} AND enumlabel = ${quoteLiteral(label)})`;

/** Where the new label goes relative to an existing one; undefined when it goes last. */
function anchor(s: AddEnumValueSpec): { word: 'BEFORE' | 'AFTER'; label: string } | undefined {
  if (s.before !== undefined) return { word: 'BEFORE', label: s.before };
  return s.after === undefined ? undefined : { word: 'AFTER', label: s.after };
}

/**
 * Add a label to an enum type. A label cannot be removed from an enum, so the
 * part is irreversible: once applied, `down` stops before it (a point of no
 * return). It runs outside a transaction block, which PostgreSQL before 12 requires.
 */
export const addEnumValue: Operation<AddEnumValueSpec> = {
  name: 'add-enum-value',
  schema: addEnumValueSchema,
  describe(s) {
    const at = anchor(s);
    return `add value ${quoteLiteral(s.value)} to enum ${s.type}${at ? ` ${at.word.toLowerCase()} ${quoteLiteral(at.label)}` : ''}`;
  },
  expand(s) {
    const t = typeRef(s.type);
    const oid = regtype(t);
    const at = anchor(s);
    const place = at ? ` ${at.word} ${quoteLiteral(at.label)}` : '';
    const position = at ? ` AND ${sortOrder(oid, s.value)} ${at.word === 'BEFORE' ? '<' : '>'} ${sortOrder(oid, at.label)}` : '';
    return [
      {
        kind: 'sql',
        name: 'add-enum-value',
        description: `add ${quoteLiteral(s.value)} to enum ${s.type} (cannot be undone: a point of no return)`,
        // Before PostgreSQL 12 ADD VALUE cannot run in a transaction block; a new value cannot be used in the transaction that adds it anyway.
        transaction: false,
        forward: [`ALTER TYPE ${t.sql} ADD VALUE IF NOT EXISTS ${quoteLiteral(s.value)}${place}`],
        rollback: [],
        irreversible: true,
        verify: [`SELECT coalesce(EXISTS (SELECT 1 FROM pg_enum WHERE enumtypid = ${oid} AND enumlabel = ${quoteLiteral(s.value)})${position}, false)`],
        // ADD VALUE locks the type (not a table) until it ends; columns of the type stay readable and writable.
        locks: [],
      },
    ];
  },
  contract: () => [],
};
