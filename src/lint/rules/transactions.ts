import { lockTimeoutIsZero } from '../context.js';
import { blocksWrites } from '../locks.js';
import { alterCommands, hasOption, stringConstants, unwrap } from '../tree.js';
import type { Rule, RuleInput } from './rule.js';

/** Why a statement cannot run inside a transaction block, if it cannot. */
function outsideTransactionOnly({ statement, n }: RuleInput): string | undefined {
  switch (statement.node) {
    case 'IndexStmt':
      return n.concurrent ? 'CREATE INDEX CONCURRENTLY' : undefined;
    case 'DropStmt':
      return n.concurrent ? 'DROP INDEX CONCURRENTLY' : undefined;
    case 'ReindexStmt':
      return hasOption(n.params, 'concurrently')
        ? 'REINDEX CONCURRENTLY'
        : n.kind === 'REINDEX_OBJECT_DATABASE' || n.kind === 'REINDEX_OBJECT_SYSTEM'
          ? 'REINDEX DATABASE/SYSTEM'
          : undefined;
    case 'VacuumStmt':
      return n.is_vacuumcmd ? 'VACUUM' : undefined;
    case 'AlterTableStmt':
      return alterCommands(n).some((c) => c.subtype === 'AT_DetachPartition' && unwrap(c.def, 'PartitionCmd')?.concurrent)
        ? 'DETACH PARTITION CONCURRENTLY'
        : undefined;
    case 'CreatedbStmt':
      return 'CREATE DATABASE';
    case 'DropdbStmt':
      return 'DROP DATABASE';
    case 'CreateTableSpaceStmt':
      return 'CREATE TABLESPACE';
    case 'DropTableSpaceStmt':
      return 'DROP TABLESPACE';
    case 'AlterSystemStmt':
      return 'ALTER SYSTEM';
    case 'CreateSubscriptionStmt':
      return 'CREATE SUBSCRIPTION';
    case 'DropSubscriptionStmt':
      return 'DROP SUBSCRIPTION';
    default:
      return undefined;
  }
}

/** A statement PostgreSQL refuses inside a transaction block. */
export const transactionIncompatible: Rule = {
  id: 'transaction-incompatible',
  severity: 'error',
  why: 'PostgreSQL refuses this statement inside a transaction block ("cannot run inside a transaction block"), so the step fails every time.',
  fix: 'put the statement alone in its own step with "transaction": false (ferry then cleans up after an interrupted run), or outside BEGIN … COMMIT',
  check(input) {
    if (!input.state.inTransaction) return [];
    const what = outsideTransactionOnly(input);
    const where = input.state.ferryManaged ? 'a transactional ferry step' : 'a transaction block (after BEGIN)';
    return what ? [`${what} inside ${where}`] : [];
  },
};

/** A statement that uses an enum value added in the same transaction. */
export const enumValueUsedInTransaction: Rule = {
  id: 'enum-value-in-transaction',
  severity: 'error',
  why: 'an enum value added with ALTER TYPE … ADD VALUE cannot be used until the transaction that added it commits ("unsafe use of new value").',
  fix: 'add the value in its own step (or commit first) and use it in a later step',
  check({ statement, state }) {
    if (!state.inTransaction || state.enumValuesAdded.size === 0 || statement.node === 'AlterEnumStmt') return [];
    const used = [...new Set(stringConstants(statement.tree))].filter((s) => state.enumValuesAdded.has(s));
    return used.map((v) => `uses enum value '${v}' added earlier in the same transaction`);
  },
};

/** BEGIN/COMMIT/ROLLBACK inside a ferry step. */
export const transactionControlInStep: Rule = {
  id: 'transaction-control-in-step',
  severity: 'error',
  why: 'ferry runs each step in its own transaction (or none), and records the step in that same transaction; a COMMIT or ROLLBACK inside the SQL breaks that, so a failure can leave the step half applied and unrecorded.',
  fix: 'remove BEGIN/COMMIT/ROLLBACK; split the SQL into several steps where it needs separate transactions',
  check({ statement, n, state }) {
    if (!state.ferryManaged || statement.node !== 'TransactionStmt') return [];
    const kind = String(n.kind).replace('TRANS_STMT_', '');
    return ['SAVEPOINT', 'RELEASE', 'ROLLBACK_TO'].includes(kind) ? [] : [`${kind.replace('_', ' ')} inside a ferry step`];
  },
};

/** A standalone script that takes write-blocking locks before setting lock_timeout. */
export const missingLockTimeout: Rule = {
  id: 'missing-lock-timeout',
  severity: 'warning',
  why: 'a statement waiting for a strong lock (behind a long query) queues every later query on that table behind it, so the application stalls for as long as the wait lasts; lock_timeout bounds the wait, statement_timeout bounds the whole statement. Inside a ferry migration this is not reported: ferry sets lock_timeout for every step and retries.',
  fix: "SET lock_timeout = '2s' (and a statement_timeout) at the top of the script, and retry on timeout; or run it as a ferry migration step",
  check({ analysis, state }) {
    if (state.ferryManaged || state.lockTimeoutSet || state.lockTimeoutReported) return [];
    const strong = analysis.locks.find((l) => blocksWrites(l.mode));
    if (!strong) return [];
    state.lockTimeoutReported = true;
    return [`takes ${strong.mode} on ${strong.relation} with no lock_timeout set before`];
  },
};

/** A ferry step that switches off the lock_timeout ferry set. */
export const lockTimeoutOverridden: Rule = {
  id: 'lock-timeout-overridden',
  severity: 'warning',
  why: 'ferry sets lock_timeout for every step so a blocked DDL statement gives up and retries instead of stalling the application; setting it to 0 or resetting it removes that protection for the rest of the step.',
  fix: "remove the SET/RESET, or set a bounded value (SET LOCAL lock_timeout = '5s')",
  check({ statement, n, state }) {
    if (!state.ferryManaged || statement.node !== 'VariableSetStmt' || n.name !== 'lock_timeout' || !lockTimeoutIsZero(n)) return [];
    return [n.kind === 'VAR_RESET' || n.kind === 'VAR_SET_DEFAULT' ? 'resets the lock_timeout ferry set' : 'sets lock_timeout to 0 (wait forever)'];
  },
};

/** The transaction and session rules. */
export const transactionRules: Rule[] = [
  transactionIncompatible,
  enumValueUsedInTransaction,
  transactionControlInStep,
  missingLockTimeout,
  lockTimeoutOverridden,
];
