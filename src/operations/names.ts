import { createHash } from 'node:crypto';
import { z } from 'zod';
import { quoteLiteral, quoteQualified } from '../db/quote.js';

/** An SQL identifier as PostgreSQL keeps it: 1–63 bytes, no NUL (longer names would be silently truncated). */
export const identifier = z
  .string()
  .min(1)
  .refine((s) => !s.includes('\0') && Buffer.byteLength(s, 'utf8') <= 63, 'an identifier is 1 to 63 bytes long and has no NUL byte');

/** A table as a manifest names it: `users` (schema public) or `app.users`; neither part may contain a dot. */
export const tableName = z
  .string()
  .regex(/^[^.\0]+(\.[^.\0]+)?$/, 'must be a table name, optionally schema-qualified (schema.table)')
  .refine((s) => s.split('.').every((p) => Buffer.byteLength(p, 'utf8') <= 63), 'each part of a table name is at most 63 bytes');

/** A table resolved from its manifest name, with the quoted forms SQL needs. */
export interface TableRef {
  schema: string;
  name: string;
  /** As the user wrote it, for lock notes and descriptions. */
  display: string;
  /** `"schema"."table"`, for statements. */
  sql: string;
  /** The table's oid as an SQL expression; fails when there is no such relation. */
  oid: string;
  /** `to_regclass('"schema"."table"')`: the oid, or NULL when there is no such relation (for checks). */
  regclass: string;
}

/** Resolve `users` or `app.users`; the default schema is `public`. */
export function tableRef(table: string): TableRef {
  const dot = table.indexOf('.');
  const schema = dot < 0 ? 'public' : table.slice(0, dot);
  const name = dot < 0 ? table : table.slice(dot + 1);
  const sql = quoteQualified(schema, name);
  return { schema, name, display: table, sql, oid: `${quoteLiteral(sql)}::regclass`, regclass: `to_regclass(${quoteLiteral(sql)})` };
}

/** A verify query: true when `regclass` names a relation of one of the `relkinds` (`r`, `p`, `v` …). */
export function relationIsSql(regclass: string, relkinds: string[]): string {
  return `SELECT EXISTS (SELECT 1 FROM pg_class WHERE oid = ${regclass} AND relkind IN (${relkinds.map(quoteLiteral).join(', ')}))`;
}

/** A name of at most 63 bytes: the parts joined by `_`, cut and suffixed with a hash of the whole when too long. */
export function boundedName(...parts: string[]): string {
  const full = parts.join('_');
  if (Buffer.byteLength(full) <= 63) return full;
  const hash = createHash('sha256').update(full).digest('hex').slice(0, 8);
  let cut = full;
  while (Buffer.byteLength(cut) > 54) cut = cut.slice(0, -1);
  return `${cut}_${hash}`;
}
