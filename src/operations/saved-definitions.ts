import { quoteLiteral } from '../db/quote.js';
import type { TableRef } from './names.js';

/**
 * What an operation keeps in `ferry.saved_definitions` (state version 13): an
 * operation's SQL is fixed when it is compiled, before the catalog is read, so
 * what it drops or replaces is saved when it runs and its rollback reads it back.
 */
export interface SavedDefinition {
  /** `constraint`, `index`, `replica-identity`, or `column` (alter-column's record of a column before an in-place change, as jsonb). */
  kind: 'constraint' | 'index' | 'replica-identity' | 'column';
  /** The table, as `schema.name` (table names cannot hold a dot, so this is unambiguous). */
  relation: string;
  /** The constraint's or index's name; for a replica identity, the identity the step sets; for a column, `<column>#<hash of the change>`. */
  name: string;
}

/** The saved row of `kind` and `name` on table `t`. */
export const savedDefinition = (kind: SavedDefinition['kind'], t: TableRef, name: string): SavedDefinition => ({
  kind,
  relation: `${t.schema}.${t.name}`,
  name,
});

const where = (s: SavedDefinition) => `kind = ${quoteLiteral(s.kind)} AND relation = ${quoteLiteral(s.relation)} AND name = ${quoteLiteral(s.name)}`;

/**
 * The statement that saves the one value `query` returns (a `SELECT <text> FROM …`)
 * as `s`, replacing an earlier save; it saves nothing when the query finds no row.
 */
export function saveDefinitionSql(s: SavedDefinition, query: string): string {
  return `INSERT INTO ferry.saved_definitions (kind, relation, name, definition, saved_at)
SELECT ${quoteLiteral(s.kind)}, ${quoteLiteral(s.relation)}, ${quoteLiteral(s.name)}, d, now() FROM (${query}) AS saved (d)
ON CONFLICT (kind, relation, name) DO UPDATE SET definition = EXCLUDED.definition, saved_at = EXCLUDED.saved_at`;
}

/** An SQL expression: the saved definition, or NULL when there is none. */
export const savedDefinitionSql = (s: SavedDefinition): string => `(SELECT definition FROM ferry.saved_definitions WHERE ${where(s)})`;

/** A verify query: true when the definition is saved. */
export const isSavedSql = (s: SavedDefinition): string => `SELECT EXISTS (SELECT 1 FROM ferry.saved_definitions WHERE ${where(s)})`;

/** The statement that forgets the saved definition once it has been put back. */
export const forgetDefinitionSql = (s: SavedDefinition): string => `DELETE FROM ferry.saved_definitions WHERE ${where(s)}`;

/**
 * An anonymous PL/pgSQL block whose body is a quoted literal, never dollar-quoted:
 * user names inside it (already quoted as literals) cannot end it early.
 */
export const literalDoBlock = (body: string, declare = ''): string => `DO ${quoteLiteral(`${declare ? `DECLARE\n  ${declare}\n` : ''}BEGIN\n${body}\nEND`)}`;

/** A PL/pgSQL statement running `ALTER TABLE <t> <what>`, `what` a `format` pattern (compile-time text only) over `args` (passed as literals). */
export const alterTableSql = (t: TableRef, what: string, ...args: string[]): string =>
  `EXECUTE format('ALTER TABLE %s ${what}', ${[quoteLiteral(t.sql), ...args].join(', ')});`;
