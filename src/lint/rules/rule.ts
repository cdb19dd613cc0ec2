import type { Statement } from '../../db/sql-script.js';
import { describeSize } from '../catalog.js';
import type { ScriptState } from '../context.js';
import type { LockAnalysis } from '../locks.js';
import type { Node, RangeVar } from '../tree.js';
import type { CatalogFact, RuleInfo } from '../types.js';

/** What a rule sees of one statement: the statement, its node body, its locks, and what came before. */
export interface RuleInput {
  statement: Statement;
  /** The statement node's body (`tree[node]`). */
  n: Node;
  analysis: LockAnalysis;
  state: ScriptState;
}

/** One problem a rule found, with what the catalog told about its table when the rule used it. */
export interface RuleHit {
  message: string;
  catalog?: CatalogFact;
  /** Why the workflow itself makes this statement safe where it stands (a contract step dropping the old shape): the finding is shown as handled, never raised. */
  handled?: string;
}

/** One lint rule: its identity and advice, and a check returning one message (or hit) per problem in a statement. */
export interface Rule extends RuleInfo {
  check(input: RuleInput): (string | RuleHit)[];
}

/**
 * A problem on a table whose size matters: with a catalog, the message ends
 * with the table's measured size (`public.users: ~12,000 rows, 1.4 MB`) and the
 * hit carries the catalog's record; without one it is the plain message.
 */
export function onTable(state: ScriptState, table: RangeVar, message: string, column?: string): string | RuleHit {
  const fact = state.tableFact(table, column);
  if (!fact) return message;
  const size = fact.found ? `${fact.table}: ${describeSize({ rows: fact.rows ?? null, bytes: fact.bytes ?? 0 })}` : `${fact.table} is not in the catalog`;
  return { message: `${message} (${size})`, catalog: fact };
}
