import type { Statement } from '../db/sql-script.js';
import type { CatalogIndex, CatalogTable, LintCatalog } from './catalog.js';
import { KnownRelations } from './relations.js';
import {
  alterCommands,
  asList,
  asNode,
  body,
  calledFunctions,
  columnConstraints,
  names,
  type RangeVar,
  rangeVar,
  rangeVarOfNames,
  relationName,
  unwrap,
} from './tree.js';
import { judgeTypeChange, type TypeChangeVerdict } from './type-change.js';
import type { CatalogFact } from './types.js';

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
 * indexes that exist (from the live catalog when given, and those created
 * before, which are new and empty so most rules do not apply), validated NOT
 * NULL checks, the session's lock_timeout and the transaction the statement runs in.
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
  /** The phase of the migration step being linted: `contract` steps remove the old shape after verification. */
  phase: 'expand' | 'contract' = 'expand';
  /** The live catalog the script is judged against, if one was read. */
  readonly catalog: LintCatalog | undefined;
  private readonly relations: KnownRelations;
  private readonly checks: NotNullCheck[] = [];
  /** The new names of existing tables an expand step renamed away (their old shape, out of the applications' sight). */
  private readonly renamedAway: RangeVar[] = [];

  constructor(opts: { ferryManaged: boolean; transaction: boolean; catalog?: LintCatalog }) {
    this.ferryManaged = opts.ferryManaged;
    this.inTransaction = opts.transaction;
    this.lockTimeoutSet = opts.ferryManaged;
    this.catalog = opts.catalog;
    this.relations = new KnownRelations(opts.catalog);
  }

  /** A new ferry step begins: its own transaction (or none) and phase, ferry's lock_timeout again. */
  startStep(transaction: boolean, phase: 'expand' | 'contract' = 'expand'): void {
    this.inTransaction = transaction;
    this.phase = phase;
    this.lockTimeoutSet = this.ferryManaged;
    this.enumValuesAdded.clear();
  }

  /**
   * Whether the table was created earlier in this script or migration (so it is
   * empty). A table in the catalog is not new, even after a CREATE TABLE IF NOT
   * EXISTS; one dropped and created again is.
   */
  isNew(rv: RangeVar | undefined): boolean {
    return rv !== undefined && this.relations.tableOrigin(rv) === 'script';
  }

  /**
   * Whether the index was created earlier in this script or migration. Names
   * resolve in the index's schema (its table's); an index the catalog has stays
   * the existing one after a CREATE INDEX IF NOT EXISTS of the same name.
   */
  isNewIndex(rv: RangeVar | undefined): boolean {
    return rv !== undefined && this.relations.indexOrigin(rv) === 'script';
  }

  /** Whether a catalog was read and proves the index absent (so `DROP INDEX IF EXISTS` does nothing). */
  isAbsentIndex(rv: RangeVar): boolean {
    return this.catalog !== undefined && this.relations.indexOrigin(rv) === undefined;
  }

  /** Whether `CREATE INDEX IF NOT EXISTS name ON table` meets an index that already exists, so builds nothing. */
  indexAlreadyExists(name: string, table: RangeVar): boolean {
    return this.relations.indexExistsFor(name, table);
  }

  /** The catalog's record of a table the statement names, while it is still that table. */
  catalogTable(rv: RangeVar): CatalogTable | undefined {
    return this.relations.catalogTable(rv);
  }

  /** The catalog's record of an index, while it is still that index. */
  catalogIndex(rv: RangeVar): CatalogIndex | undefined {
    return this.relations.catalogIndex(rv);
  }

  /**
   * What the catalog tells about the table a finding is on: found with its
   * size, or not found. Undefined without a catalog.
   */
  tableFact(rv: RangeVar, column?: string): CatalogFact | undefined {
    if (!this.catalog) return undefined;
    const t = this.relations.catalogTable(rv);
    if (!t) return { table: relationName(rv), found: false };
    const fact: CatalogFact = { table: `${t.schema}.${t.name}`, found: true, rows: t.rows, bytes: t.bytes };
    const c = column === undefined ? undefined : this.relations.catalogColumn(rv, column);
    if (column !== undefined && c) fact.column = { name: column, type: c.type };
    return fact;
  }

  /**
   * Judge an `ALTER COLUMN … TYPE` on an existing table from the catalog:
   * undefined when there is no catalog or it does not have the table.
   */
  typeChange(table: RangeVar | undefined, cmd: Record<string, unknown>): TypeChangeVerdict | undefined {
    if (!table || !this.catalog || this.isNew(table) || !this.relations.catalogTable(table)) return undefined;
    const column = this.relations.catalogColumn(table, String(cmd.name));
    if (!column) return { rewrite: true, reason: `the catalog does not tell column ${String(cmd.name)}'s type at this point` };
    return judgeTypeChange(column, cmd);
  }

  /**
   * Whether the table `rv` names got that name from a rename of an existing
   * table in an expand step before: the old shape of an expand/contract change,
   * which a contract step may drop.
   */
  wasRenamedAway(rv: RangeVar): boolean {
    return !this.isNew(rv) && this.renamedAway.some((r) => sameRelation(r, rv));
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
        if (rv) this.relations.createTable(rv, n.if_not_exists === true);
        break;
      }
      case 'CreateTableAsStmt': {
        const rv = rangeVar(asNode(n.into)?.rel);
        if (rv) this.relations.createTable(rv, n.if_not_exists === true);
        break;
      }
      case 'IndexStmt': {
        const table = rangeVar(n.relation);
        if (typeof n.idxname === 'string' && table) this.relations.createIndex(n.idxname, table, n.if_not_exists === true);
        break;
      }
      case 'DropStmt':
        for (const rv of droppedRelations(n)) {
          if (n.removeType === 'OBJECT_TABLE') this.relations.dropTable(rv);
          if (n.removeType === 'OBJECT_INDEX') this.relations.dropIndex(rv);
        }
        break;
      case 'RenameStmt':
        this.observeRename(n);
        break;
      case 'AlterTableStmt':
        this.observeAlterTable(n);
        break;
      case 'VariableSetStmt':
        if (n.name === 'search_path') this.relations.forgetSearchPath();
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

  private observeRename(n: Record<string, unknown>): void {
    const rv = rangeVar(n.relation);
    if (!rv || typeof n.newname !== 'string') return;
    if (n.renameType === 'OBJECT_TABLE') {
      if (this.phase === 'expand' && !this.isNew(rv)) this.renamedAway.push({ ...rv, relname: n.newname });
      this.relations.renameTable(rv, n.newname);
    }
    if (n.renameType === 'OBJECT_INDEX') this.relations.renameIndex(rv, n.newname);
    if (n.renameType === 'OBJECT_COLUMN' && typeof n.subname === 'string') {
      this.relations.changeColumn(rv, n.subname);
      this.relations.changeColumn(rv, n.newname);
    }
  }

  private observeAlterTable(n: Record<string, unknown>): void {
    const table = rangeVar(n.relation);
    if (!table) return;
    for (const cmd of alterCommands(n)) {
      if (cmd.subtype === 'AT_AlterColumnType' || cmd.subtype === 'AT_DropColumn') this.relations.changeColumn(table, String(cmd.name));
      const added = unwrap(cmd.def, 'ColumnDef');
      if (cmd.subtype === 'AT_AddColumn' && typeof added?.colname === 'string') this.relations.changeColumn(table, added.colname);
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
