import type { Statement } from '../migration/sql-script.js';
import { alterCommands, asList, asNode, body, calledFunctions, columnConstraints, names, type RangeVar, rangeVar, rangeVarOfNames, unwrap } from './tree.js';

/** A `CHECK (col IS NOT NULL)` constraint seen earlier, which makes a later SET NOT NULL skip its table scan once validated. */
interface NotNullCheck {
  table: RangeVar;
  column: string;
  name: string | undefined;
  validated: boolean;
}

function sameRelation(a: RangeVar, b: RangeVar): boolean {
  return a.relname === b.relname && (a.schemaname === undefined || b.schemaname === undefined || a.schemaname === b.schemaname);
}

/** The column a `col IS NOT NULL` expression tests, if that is all the expression is. */
function notNullColumn(expr: unknown): string | undefined {
  const test = unwrap(expr, 'NullTest');
  if (test?.nulltesttype !== 'IS_NOT_NULL') return undefined;
  return names(unwrap(test.arg, 'ColumnRef')?.fields).at(-1);
}

/**
 * What the linter knows at one point of a script or migration: the tables and
 * indexes created before (new, so most rules do not apply), validated NOT NULL
 * checks, the session's lock_timeout and the transaction the statement runs in.
 */
export class ScriptState {
  /** Whether ferry runs this SQL as a migration step (ferry then sets lock_timeout itself). */
  readonly ferryManaged: boolean;
  /** Whether the next statement runs inside a transaction block. */
  inTransaction: boolean;
  /** Whether a `SET lock_timeout` (not 0) came before, or ferry sets it. */
  lockTimeoutSet: boolean;
  /** Set once `missing-lock-timeout` has been reported, so it is reported once per script. */
  lockTimeoutReported = false;
  /** Enum values added (ALTER TYPE … ADD VALUE) in the current transaction. */
  enumValuesAdded = new Set<string>();
  private readonly created: RangeVar[] = [];
  private readonly createdIndexes: string[] = [];
  private readonly checks: NotNullCheck[] = [];

  constructor(opts: { ferryManaged: boolean; transaction: boolean }) {
    this.ferryManaged = opts.ferryManaged;
    this.inTransaction = opts.transaction;
    this.lockTimeoutSet = opts.ferryManaged;
  }

  /** A new ferry step begins: its own transaction (or none), ferry's lock_timeout again. */
  startStep(transaction: boolean): void {
    this.inTransaction = transaction;
    this.lockTimeoutSet = this.ferryManaged;
    this.enumValuesAdded.clear();
  }

  /** Whether the relation was created earlier in this script or migration. */
  isNew(rv: RangeVar | undefined): boolean {
    return rv !== undefined && this.created.some((c) => sameRelation(c, rv));
  }

  /** Whether the index was created earlier in this script or migration. */
  isNewIndex(rv: RangeVar | undefined): boolean {
    return rv !== undefined && this.createdIndexes.includes(rv.relname);
  }

  /** Whether a validated `CHECK (column IS NOT NULL)` exists on the table from earlier statements. */
  hasValidatedNotNull(table: RangeVar, column: string): boolean {
    return this.checks.some((c) => c.validated && c.column === column && sameRelation(c.table, table));
  }

  /** Update what is known after `s` ran. */
  observe(s: Statement): void {
    const n = body(s.tree, s.node);
    switch (s.node) {
      case 'CreateStmt': {
        const rv = rangeVar(n.relation);
        if (rv) this.created.push(rv);
        break;
      }
      case 'CreateTableAsStmt': {
        const rv = rangeVar(asNode(n.into)?.rel);
        if (rv) this.created.push(rv);
        break;
      }
      case 'IndexStmt':
        if (typeof n.idxname === 'string') this.createdIndexes.push(n.idxname);
        break;
      case 'RenameStmt': {
        const rv = rangeVar(n.relation);
        if (n.renameType === 'OBJECT_TABLE' && rv && this.isNew(rv) && typeof n.newname === 'string') {
          this.created.push(rv.schemaname ? { schemaname: rv.schemaname, relname: n.newname } : { relname: n.newname });
        }
        break;
      }
      case 'AlterTableStmt':
        this.observeAlterTable(n);
        break;
      case 'VariableSetStmt':
        this.observeSet(n);
        break;
      case 'TransactionStmt':
        this.observeTransaction(String(n.kind));
        break;
      case 'AlterEnumStmt':
        if (typeof n.newVal === 'string' && !n.oldVal) this.enumValuesAdded.add(n.newVal);
        break;
    }
  }

  private observeAlterTable(n: Record<string, unknown>): void {
    const table = rangeVar(n.relation);
    if (!table) return;
    for (const cmd of alterCommands(n)) {
      const con = unwrap(cmd.def, 'Constraint');
      if (cmd.subtype === 'AT_AddConstraint' && con?.contype === 'CONSTR_CHECK') {
        const column = notNullColumn(con.raw_expr);
        const name = typeof con.conname === 'string' ? con.conname : undefined;
        if (column) this.checks.push({ table, column, name, validated: !con.skip_validation || this.isNew(table) });
      }
      if (cmd.subtype === 'AT_ValidateConstraint') {
        for (const c of this.checks) if (c.name === cmd.name && sameRelation(c.table, table)) c.validated = true;
      }
    }
  }

  private observeSet(n: Record<string, unknown>): void {
    if (n.name !== 'lock_timeout') return;
    if (n.kind === 'VAR_RESET' || n.kind === 'VAR_SET_DEFAULT') {
      this.lockTimeoutSet = false;
      return;
    }
    this.lockTimeoutSet = !lockTimeoutIsZero(n);
  }

  private observeTransaction(kind: string): void {
    if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') this.inTransaction = true;
    if (['TRANS_STMT_COMMIT', 'TRANS_STMT_ROLLBACK', 'TRANS_STMT_PREPARE', 'TRANS_STMT_COMMIT_PREPARED'].includes(kind)) {
      this.inTransaction = false;
      this.enumValuesAdded.clear();
    }
  }
}

/** Whether a `SET lock_timeout …` sets it to 0 (no timeout). */
export function lockTimeoutIsZero(set: Record<string, unknown>): boolean {
  if (set.kind === 'VAR_RESET' || set.kind === 'VAR_SET_DEFAULT') return true;
  const arg = unwrap(asList(set.args)[0], 'A_Const');
  if (!arg) return false;
  const s = unwrap(arg, 'sval')?.sval;
  if (typeof s === 'string') return /^\s*0+\s*(ms|s|min|h|d)?\s*$/i.test(s);
  const i = asNode(arg.ival);
  return i !== undefined && (i.ival === undefined || i.ival === 0);
}

/** Names of the volatile functions a default can call, which make ADD COLUMN rewrite the table. */
export const VOLATILE_FUNCTIONS = new Set([
  'random',
  'gen_random_uuid',
  'uuid_generate_v1',
  'uuid_generate_v1mc',
  'uuid_generate_v4',
  'uuidv4',
  'uuidv7',
  'clock_timestamp',
  'timeofday',
  'nextval',
  'setval',
  'txid_current',
  'random_normal',
  'gen_random_bytes',
]);

/** Whether a column definition's default (or its type: serial, identity) yields a volatile value per row. */
export function volatileDefault(columnDef: Record<string, unknown>): string | undefined {
  const type = names(asNode(columnDef.typeName)?.names).at(-1)?.toLowerCase();
  if (type && ['serial', 'serial2', 'serial4', 'serial8', 'smallserial', 'bigserial'].includes(type)) return `${type} (nextval())`;
  for (const c of columnConstraints(columnDef)) {
    if (c.contype === 'CONSTR_IDENTITY') return 'an identity column (nextval())';
    if (c.contype === 'CONSTR_DEFAULT') {
      const volatile = calledFunctions(c.raw_expr).find((f) => VOLATILE_FUNCTIONS.has(f));
      if (volatile) return `${volatile}()`;
    }
  }
  const raw = asNode(columnDef.raw_default);
  const volatile = raw ? calledFunctions(raw).find((f) => VOLATILE_FUNCTIONS.has(f)) : undefined;
  return volatile ? `${volatile}()` : undefined;
}

/** A DROP statement's objects as relations (`DROP TABLE a, app.b`). */
export function droppedRelations(n: Record<string, unknown>): RangeVar[] {
  return asList(n.objects)
    .map((o) => rangeVarOfNames(names(unwrap(o, 'List')?.items)))
    .filter((r): r is RangeVar => r !== undefined);
}
