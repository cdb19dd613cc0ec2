import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import { droppedRelations } from '../lint/context.js';
import { alterCommands, body, rangeVar, relationName } from '../lint/tree.js';
import type { ParsedStatement } from './sql-effects.js';
import type { RollbackLoss } from './types.js';

/**
 * What hand-written rollback SQL drops, counted conservatively: every row of a
 * table it drops (`DROP TABLE`), and every non-null value of a column it drops
 * (`ALTER TABLE … DROP COLUMN`) other than the value `ADD COLUMN … DEFAULT`
 * gave the rows there at the time (the catalog's `attmissingval`). ferry cannot
 * tell whether the old shape could regenerate the others, so it assumes it cannot.
 */
export function droppedByStatements(statements: readonly ParsedStatement[]): RollbackLoss[] {
  const out: RollbackLoss[] = [];
  for (const s of statements) {
    const n = body(s.tree, s.node);
    if (s.node === 'DropStmt' && n.removeType === 'OBJECT_TABLE') {
      for (const rv of droppedRelations(n)) out.push({ table: relationName(rv), where: 'true' });
    }
    if (s.node === 'AlterTableStmt') {
      const rv = rangeVar(n.relation);
      if (!rv) continue;
      for (const c of alterCommands(n)) {
        if (c.subtype === 'AT_DropColumn' && typeof c.name === 'string') {
          const table = quoteLiteral(quoteQualified(...(rv.schemaname ? [rv.schemaname] : []), rv.relname));
          const added = `(SELECT (a.attmissingval::text::text[])[1] FROM pg_attribute a WHERE a.attrelid = to_regclass(${table}) AND a.attname = ${quoteLiteral(c.name)})`;
          out.push({
            table: relationName(rv),
            column: c.name,
            where: `${quoteIdent(c.name)} IS NOT NULL AND ${quoteIdent(c.name)}::text IS DISTINCT FROM ${added}`,
          });
        }
      }
    }
  }
  return out;
}
