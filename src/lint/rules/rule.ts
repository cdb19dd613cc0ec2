import type { Statement } from '../../migration/sql-script.js';
import type { ScriptState } from '../context.js';
import type { LockAnalysis } from '../locks.js';
import type { Node } from '../tree.js';
import type { RuleInfo } from '../types.js';

/** What a rule sees of one statement: the statement, its node body, its locks, and what came before. */
export interface RuleInput {
  statement: Statement;
  /** The statement node's body (`tree[node]`). */
  n: Node;
  analysis: LockAnalysis;
  state: ScriptState;
}

/** One lint rule: its identity and advice, and a check returning one message per problem in a statement. */
export interface Rule extends RuleInfo {
  check(input: RuleInput): string[];
}
