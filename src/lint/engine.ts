import type { Statement } from '../db/sql-script.js';
import { changeOf } from './classify.js';
import type { ScriptState } from './context.js';
import { disabledByComments } from './disable.js';
import { analyseStatement } from './locks.js';
import { columnRules } from './rules/columns.js';
import { constraintRules } from './rules/constraints.js';
import { indexRules } from './rules/indexes.js';
import type { Rule } from './rules/rule.js';
import { tableRules } from './rules/tables.js';
import { transactionRules } from './rules/transactions.js';
import { body } from './tree.js';
import type { Finding, RuleInfo, StatementReport } from './types.js';

/** Every statement rule, in the order findings are listed. */
export const RULES: readonly Rule[] = [...columnRules, ...constraintRules, ...indexRules, ...tableRules, ...transactionRules];

/** The migration-level rule comparing the declared migration type with the one the statements show. */
export const TYPE_MISMATCH: RuleInfo = {
  id: 'type-mismatch',
  severity: 'warning',
  why: 'the declared type sets how careful the rollout is (gates, approvals, deprecation period); a migration declared milder than what it does is rolled out with too little care, one declared harsher confuses reviewers.',
  fix: 'set "type" in the manifest to the inferred type, or split the migration so each part has one kind of change',
};

/** A rule's identity and advice by id. */
export function ruleInfo(id: string): RuleInfo | undefined {
  return id === TYPE_MISMATCH.id ? TYPE_MISMATCH : RULES.find((r) => r.id === id);
}

/** One script to lint: its statements, where they come from, and what switches findings off. */
export interface ScriptInput {
  statements: Statement[];
  file?: string;
  migrationId?: string;
  stepId?: string;
  /** Rules disabled for the whole script (manifest `lint.disable`), with the note to show. */
  disabled?: Map<string, string>;
  /** Rules the ferry operation this step was compiled from handles safely. */
  handledBy?: { op: string; rules: readonly string[] };
}

function where(input: ScriptInput, line: number): Pick<Finding, 'file' | 'line' | 'migrationId' | 'stepId'> {
  return {
    line,
    ...(input.file !== undefined ? { file: input.file } : {}),
    ...(input.migrationId !== undefined ? { migrationId: input.migrationId } : {}),
    ...(input.stepId !== undefined ? { stepId: input.stepId } : {}),
  };
}

/** Set a finding's status from what the rule saw handled (`handled`), the operation that handles it, the statement's comments and the manifest. */
function settle(f: Finding, comments: Map<string, string | undefined>, input: ScriptInput, handled?: string): Finding {
  if (handled !== undefined) return { ...f, severity: 'info', status: 'handled', note: `handled: ${handled}` };
  if (input.handledBy?.rules.includes(f.rule)) {
    const note = `handled by operation ${input.handledBy.op}`;
    return { ...f, severity: 'info', status: 'handled', note };
  }
  const byComment = comments.has(f.rule) ? f.rule : comments.has('all') ? 'all' : undefined;
  if (byComment !== undefined) {
    const reason = comments.get(byComment);
    return { ...f, status: 'disabled', note: `disabled by comment${reason ? `: ${reason}` : ''}` };
  }
  const byManifest = input.disabled?.get(f.rule);
  if (byManifest !== undefined) return { ...f, status: 'disabled', note: byManifest };
  return f;
}

/**
 * Lint statements in order: analyse each one's locks and rewrites, run every
 * rule with what the earlier statements established, then record the statement
 * in `state` (tables it created, checks it validated, lock_timeout …).
 */
export function lintStatements(input: ScriptInput, state: ScriptState): StatementReport[] {
  return input.statements.map((statement) => {
    const analysis = analyseStatement(statement, (table, cmd) => state.typeChange(table, cmd));
    const n = body(statement.tree, statement.node);
    const comments = disabledByComments(statement.text);
    const findings = RULES.flatMap((rule) =>
      rule.check({ statement, n, analysis, state }).map((hit) => {
        const { message, catalog, handled } = typeof hit === 'string' ? { message: hit, catalog: undefined, handled: undefined } : hit;
        const f: Finding = { rule: rule.id, severity: rule.severity, message, why: rule.why, fix: rule.fix, ...where(input, statement.line), status: 'active' };
        if (catalog) f.catalog = catalog;
        return settle(f, comments, input, handled);
      }),
    );
    const change = changeOf(statement, n, findings, state);
    state.observe(statement);
    const report: StatementReport = {
      line: statement.line,
      text: statement.text,
      node: statement.node,
      locks: analysis.locks,
      rewrites: analysis.rewrites,
      findings,
    };
    if (input.file !== undefined) report.file = input.file;
    if (input.stepId !== undefined) report.stepId = input.stepId;
    if (change) report.change = change;
    return report;
  });
}
