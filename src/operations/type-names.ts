import { z } from 'zod';
import { quoteLiteral } from '../db/quote.js';
import { sqlType } from './compat.js';
import { type TableRef, tableRef } from './names.js';
import type { VirtualSchema } from './virtual-schema.js';

/** A type as a manifest names it: `mood` (schema public) or `app.mood`; neither part may contain a dot. */
export const typeName = z
  .string()
  .regex(/^[^.\0]+(\.[^.\0]+)?$/, 'must be a type name, optionally schema-qualified (schema.type)')
  .refine((s) => s.split('.').every((p) => Buffer.byteLength(p, 'utf8') <= 63), 'each part of a type name is at most 63 bytes');

/** An enum label as PostgreSQL keeps it: 1 to 63 bytes, no NUL. */
export const enumLabel = z
  .string()
  .min(1)
  .refine((s) => !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= 63, 'an enum label is 1 to 63 bytes long and has no NUL byte');

/**
 * True when `type` is one type: parentheses balanced and commas only inside
 * them (`numeric(12,2)`), so it cannot close the list it is pasted into or
 * add another element to it.
 */
function oneType(type: string): boolean {
  let depth = 0;
  let quoted = false;
  for (const ch of type) {
    if (ch === '"') quoted = !quoted;
    else if (quoted) continue;
    else if (ch === '(') depth++;
    else if (ch === ')' && --depth < 0) return false;
    else if (ch === ',' && depth === 0) return false;
  }
  return depth === 0 && !quoted;
}

/** An SQL type as {@link sqlType} accepts it, and exactly one: it can go in a list of attributes or columns. */
export const singleSqlType = sqlType.refine(oneType, 'must be one SQL type: balanced parentheses, commas only inside them');

/** A type resolved from its manifest name (`TableRef`'s fields, for a type). */
export type TypeRef = TableRef;

/** Resolve `mood` or `app.mood`; the default schema is `public`. */
export const typeRef = (name: string): TypeRef => tableRef(name);

/** `to_regtype('"schema"."name"')`: the type's oid, or NULL when there is none. */
export const regtype = (t: TypeRef): string => `to_regtype(${quoteLiteral(t.sql)})`;

/** The labels of enum `t` in their order, as an SQL `name[]` expression (NULL when it is no enum). */
export const enumLabelsSql = (t: TypeRef): string =>
  `(SELECT array_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = ${regtype(t)})`;

/** An SQL `name[]` literal of `labels`. */
export const labelArray = (labels: string[]): string => `ARRAY[${labels.map(quoteLiteral).join(', ')}]::name[]`;

/**
 * Problems with creating type `name`: tables, views and composite types have a
 * row type of their own name, so such a relation must not hold it (indexes and
 * sequences have none). Other types are not in the virtual schema: CREATE TYPE
 * itself refuses a taken name.
 */
export function newTypeProblems(schema: VirtualSchema, name: string): string[] {
  const key = schema.keyOf(name);
  const kind = schema.unknown === undefined ? schema.relations.get(key) : undefined;
  if (kind === undefined || kind === 'index' || kind === 'sequence') return [];
  return [`type ${key} cannot be created: ${key} is a ${kind === 'other' ? 'composite type or other' : kind} relation, whose row type has that name`];
}
