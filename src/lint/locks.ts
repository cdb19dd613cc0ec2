import { describeLockMode } from '../db/catalog-locks.js';
import type { Statement } from '../db/sql-script.js';
import { droppedRelations, volatileDefault } from './context.js';
import { alterCommands, asList, body, columnConstraints, hasOption, type Node, type RangeVar, rangeVar, relationName, unwrap } from './tree.js';
import { LOCK_MODES, type LockMode, type LockTaken, type Rewrite } from './types.js';

/** `LOCK TABLE … IN <mode> MODE`, numbered as in PostgreSQL's lockdefs.h. */
const LOCK_STMT_MODES: Record<number, LockMode> = {
  1: 'AccessShareLock',
  2: 'RowShareLock',
  3: 'RowExclusiveLock',
  4: 'ShareUpdateExclusiveLock',
  5: 'ShareLock',
  6: 'ShareRowExclusiveLock',
  7: 'ExclusiveLock',
  8: 'AccessExclusiveLock',
};

/** ALTER TABLE subcommands that take less than ACCESS EXCLUSIVE, from PostgreSQL's AlterTableGetLockLevel and the ALTER TABLE docs. */
const WEAKER_SUBCOMMANDS: Record<string, LockMode> = {
  AT_ValidateConstraint: 'ShareUpdateExclusiveLock',
  AT_SetStatistics: 'ShareUpdateExclusiveLock',
  AT_SetOptions: 'ShareUpdateExclusiveLock',
  AT_ResetOptions: 'ShareUpdateExclusiveLock',
  AT_ClusterOn: 'ShareUpdateExclusiveLock',
  AT_DropCluster: 'ShareUpdateExclusiveLock',
  AT_SetRelOptions: 'ShareUpdateExclusiveLock',
  AT_ResetRelOptions: 'ShareUpdateExclusiveLock',
  AT_AttachPartition: 'ShareUpdateExclusiveLock',
  AT_AlterConstraint: 'ShareRowExclusiveLock',
  AT_EnableTrig: 'ShareRowExclusiveLock',
  AT_EnableAlwaysTrig: 'ShareRowExclusiveLock',
  AT_EnableReplicaTrig: 'ShareRowExclusiveLock',
  AT_DisableTrig: 'ShareRowExclusiveLock',
  AT_EnableTrigAll: 'ShareRowExclusiveLock',
  AT_DisableTrigAll: 'ShareRowExclusiveLock',
  AT_EnableTrigUser: 'ShareRowExclusiveLock',
  AT_DisableTrigUser: 'ShareRowExclusiveLock',
  AT_ReplicaIdentity: 'ExclusiveLock',
};

/** What a statement does to the tables it touches: the locks it takes and the rewrites it causes. */
export interface LockAnalysis {
  locks: LockTaken[];
  rewrites: Rewrite[];
  /** The table each rewrite copies, as parsed (same order as `rewrites`). */
  rewriteTargets: RangeVar[];
}

class Collector implements LockAnalysis {
  locks: LockTaken[] = [];
  rewrites: Rewrite[] = [];
  rewriteTargets: RangeVar[] = [];

  lock(rv: RangeVar | string | undefined, mode: LockMode, why: string): void {
    if (rv === undefined) return;
    const relation = typeof rv === 'string' ? rv : relationName(rv);
    const same = this.locks.find((l) => l.relation === relation);
    if (same && LOCK_MODES.indexOf(same.mode) >= LOCK_MODES.indexOf(mode)) return;
    const entry = { relation, mode, blocks: describeLockMode(mode), why };
    if (same) Object.assign(same, entry);
    else this.locks.push(entry);
  }

  rewrite(rv: RangeVar | undefined, cause: Rewrite['cause'], reason: string): void {
    if (!rv) return;
    this.rewrites.push({ relation: relationName(rv), cause, reason });
    this.rewriteTargets.push(rv);
  }
}

/** The constraint and column definitions an ALTER TABLE subcommand adds. */
function addedForeignKeys(cmd: Node): Node[] {
  const con = unwrap(cmd.def, 'Constraint');
  if (cmd.subtype === 'AT_AddConstraint' && con?.contype === 'CONSTR_FOREIGN') return [con];
  const col = unwrap(cmd.def, 'ColumnDef');
  if (cmd.subtype === 'AT_AddColumn' && col) return columnConstraints(col).filter((c) => c.contype === 'CONSTR_FOREIGN');
  return [];
}

/** Judges an `ALTER COLUMN … TYPE` subcommand from the live catalog; undefined when it cannot tell. */
export type TypeChangeJudge = (table: RangeVar | undefined, cmd: Node) => { rewrite: boolean; reason: string } | undefined;

function alterTable(n: Node, c: Collector, judge: TypeChangeJudge | undefined): void {
  const table = rangeVar(n.relation);
  if (n.objtype !== undefined && n.objtype !== 'OBJECT_TABLE') {
    c.lock(table, 'AccessExclusiveLock', `ALTER ${String(n.objtype).replace('OBJECT_', '')}`);
    return;
  }
  for (const cmd of alterCommands(n)) {
    const sub = String(cmd.subtype);
    const label = sub.replace(/^AT_/, '');
    const fks = addedForeignKeys(cmd);
    if (sub === 'AT_AddConstraint' && fks.length > 0) c.lock(table, 'ShareRowExclusiveLock', 'ADD FOREIGN KEY');
    else if (sub === 'AT_DetachPartition' && unwrap(cmd.def, 'PartitionCmd')?.concurrent)
      c.lock(table, 'ShareUpdateExclusiveLock', 'DETACH PARTITION CONCURRENTLY');
    else c.lock(table, WEAKER_SUBCOMMANDS[sub] ?? 'AccessExclusiveLock', label);
    for (const fk of fks) c.lock(rangeVar(fk.pktable), 'ShareRowExclusiveLock', 'referenced by a new foreign key');
    const col = unwrap(cmd.def, 'ColumnDef');
    if (sub === 'AT_AddColumn' && col) {
      const volatile = volatileDefault(col);
      if (volatile) c.rewrite(table, 'volatile-default', `ADD COLUMN ${String(col.colname)} with a volatile default (${volatile}) fills every row`);
      if (columnConstraints(col).some((k) => k.contype === 'CONSTR_GENERATED'))
        c.rewrite(table, 'generated-column', `ADD COLUMN ${String(col.colname)} GENERATED … STORED computes every row`);
    }
    if (sub === 'AT_AlterColumnType') {
      const verdict = judge?.(table, cmd);
      if (!verdict)
        c.rewrite(table, 'column-type', `ALTER COLUMN ${String(cmd.name)} TYPE rewrites the table and its indexes unless the change is binary-coercible`);
      else if (verdict.rewrite) c.rewrite(table, 'column-type', `ALTER COLUMN ${String(cmd.name)} TYPE rewrites the table and its indexes: ${verdict.reason}`);
    }
    if (sub === 'AT_SetLogged' || sub === 'AT_SetUnLogged')
      c.rewrite(table, 'persistence', `SET ${sub === 'AT_SetLogged' ? 'LOGGED' : 'UNLOGGED'} rewrites the table`);
    if (sub === 'AT_SetTableSpace') c.rewrite(table, 'tablespace', 'SET TABLESPACE copies the table');
    if (sub === 'AT_SetAccessMethod') c.rewrite(table, 'access-method', 'SET ACCESS METHOD rewrites the table');
  }
}

function drop(n: Node, c: Collector): void {
  const what = String(n.removeType).replace('OBJECT_', '');
  for (const rv of droppedRelations(n)) {
    if (what === 'INDEX')
      c.lock(rv, n.concurrent ? 'ShareUpdateExclusiveLock' : 'AccessExclusiveLock', n.concurrent ? 'DROP INDEX CONCURRENTLY' : 'DROP INDEX (and its table)');
    else if (['TABLE', 'VIEW', 'MATVIEW', 'SEQUENCE', 'FOREIGN_TABLE'].includes(what)) c.lock(rv, 'AccessExclusiveLock', `DROP ${what}`);
    else if (what === 'TRIGGER' || what === 'RULE' || what === 'POLICY') c.lock(rangeVarOfObject(asList(n.objects)[0]), 'AccessExclusiveLock', `DROP ${what}`);
  }
}

/** DROP TRIGGER t ON tab lists `[tab, t]`: the table is all but the last name. */
function rangeVarOfObject(o: Node | undefined): RangeVar | undefined {
  const list = asList(unwrap(o, 'List')?.items)
    .map((x) => unwrap(x, 'String')?.sval)
    .filter((s): s is string => typeof s === 'string');
  const relname = list[list.length - 2];
  if (relname === undefined) return undefined;
  return list.length > 2 ? { schemaname: list[list.length - 3] as string, relname } : { relname };
}

/**
 * Table-level locks and rewrites of one statement, following the PostgreSQL
 * documentation of each command. With `judge` (the live catalog), a type change
 * it proves binary-coercible is no rewrite.
 */
export function analyseStatement(s: Statement, judge?: TypeChangeJudge): LockAnalysis {
  const n = body(s.tree, s.node);
  const c = new Collector();
  const rv = rangeVar(n.relation);
  switch (s.node) {
    case 'AlterTableStmt':
      alterTable(n, c, judge);
      break;
    case 'IndexStmt':
      c.lock(rv, n.concurrent ? 'ShareUpdateExclusiveLock' : 'ShareLock', n.concurrent ? 'CREATE INDEX CONCURRENTLY' : 'CREATE INDEX');
      break;
    case 'CreateStmt': {
      const fks = asList(n.tableElts).flatMap((e) => {
        const col = unwrap(e, 'ColumnDef');
        return col ? columnConstraints(col) : [unwrap(e, 'Constraint')].filter((x): x is Node => x !== undefined);
      });
      for (const fk of fks.filter((k) => k.contype === 'CONSTR_FOREIGN'))
        c.lock(rangeVar(fk.pktable), 'ShareRowExclusiveLock', 'referenced by a new foreign key');
      for (const parent of asList(n.inhRelations))
        c.lock(rangeVar(parent), n.partbound ? 'AccessExclusiveLock' : 'ShareUpdateExclusiveLock', n.partbound ? 'PARTITION OF' : 'INHERITS');
      break;
    }
    case 'CreateTrigStmt':
      c.lock(rv, 'ShareRowExclusiveLock', 'CREATE TRIGGER');
      break;
    case 'RenameStmt':
      if (n.renameType === 'OBJECT_INDEX') c.lock(rv, 'ShareUpdateExclusiveLock', 'RENAME INDEX');
      else c.lock(rv, 'AccessExclusiveLock', `RENAME ${String(n.renameType).replace('OBJECT_', '')}`);
      break;
    case 'DropStmt':
      drop(n, c);
      break;
    case 'TruncateStmt':
      for (const r of asList(n.relations)) c.lock(rangeVar(r), 'AccessExclusiveLock', 'TRUNCATE');
      break;
    case 'LockStmt':
      for (const r of asList(n.relations)) c.lock(rangeVar(r), LOCK_STMT_MODES[Number(n.mode ?? 8)] ?? 'AccessExclusiveLock', 'LOCK TABLE');
      break;
    case 'VacuumStmt': {
      const full = n.is_vacuumcmd === true && hasOption(n.options, 'full');
      for (const r of asList(n.rels)) {
        const t = rangeVar(unwrap(r, 'VacuumRelation')?.relation);
        c.lock(t, full ? 'AccessExclusiveLock' : 'ShareUpdateExclusiveLock', full ? 'VACUUM FULL' : n.is_vacuumcmd ? 'VACUUM' : 'ANALYZE');
        if (full) c.rewrite(t, 'vacuum-full', 'VACUUM FULL rewrites the table');
      }
      break;
    }
    case 'ClusterStmt':
      c.lock(rv, 'AccessExclusiveLock', 'CLUSTER');
      c.rewrite(rv, 'cluster', 'CLUSTER rewrites the table in index order');
      break;
    case 'ReindexStmt': {
      const concurrent = hasOption(n.params, 'concurrently');
      if (n.kind === 'REINDEX_OBJECT_TABLE') c.lock(rv, concurrent ? 'ShareUpdateExclusiveLock' : 'ShareLock', concurrent ? 'REINDEX CONCURRENTLY' : 'REINDEX');
      if (n.kind === 'REINDEX_OBJECT_INDEX')
        c.lock(rv, concurrent ? 'ShareUpdateExclusiveLock' : 'AccessExclusiveLock', concurrent ? 'REINDEX CONCURRENTLY' : 'REINDEX INDEX');
      break;
    }
    case 'RefreshMatViewStmt':
      c.lock(rv, n.concurrent ? 'ExclusiveLock' : 'AccessExclusiveLock', n.concurrent ? 'REFRESH MATERIALIZED VIEW CONCURRENTLY' : 'REFRESH MATERIALIZED VIEW');
      break;
    case 'UpdateStmt':
    case 'DeleteStmt':
    case 'InsertStmt':
    case 'MergeStmt':
      c.lock(rv, 'RowExclusiveLock', s.node.replace('Stmt', '').toUpperCase());
      break;
    case 'CreatePolicyStmt':
    case 'AlterPolicyStmt':
      c.lock(rangeVar(n.table), 'AccessExclusiveLock', 'POLICY');
      break;
    case 'RuleStmt':
      c.lock(rv, 'AccessExclusiveLock', 'CREATE RULE');
      break;
  }
  return c;
}

/** Whether a lock mode blocks ordinary writes (ShareLock and stronger). */
export function blocksWrites(mode: LockMode): boolean {
  return LOCK_MODES.indexOf(mode) >= LOCK_MODES.indexOf('ShareLock');
}
