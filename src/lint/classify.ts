import type { Statement } from '../db/sql-script.js';
import type { MigrationType } from '../migration/manifest.js';
import type { ScriptState } from './context.js';
import { droppedRelations } from './context.js';
import { alterCommands, type Node, rangeVar } from './tree.js';
import type { Classification, Finding, Risk } from './types.js';

/** What one statement changes, as a kind of migration, in a few words. */
export interface Change {
  type: MigrationType;
  what: string;
}

/** How far a change reaches, mildest first; `system` stands apart. */
const RANK: Record<MigrationType, number> = { 'schema-additive': 0, system: 0, 'data-format': 1, 'api-breaking': 2, 'schema-destructive': 3 };

const BY_RULE: Record<string, MigrationType> = {
  'drop-table': 'schema-destructive',
  'drop-column': 'schema-destructive',
  'truncate-table': 'schema-destructive',
  'rename-table': 'api-breaking',
  'rename-column': 'api-breaking',
  'column-type-change': 'data-format',
  'unbounded-dml': 'data-format',
};

/** The kind of change each ferry operation makes, whatever SQL it compiles to. */
export const OPERATION_TYPES: Record<string, MigrationType> = {
  'add-column': 'schema-additive',
  'add-index': 'schema-additive',
  'add-foreign-key': 'schema-additive',
  'add-unique': 'schema-additive',
  'rename-column': 'api-breaking',
  'rename-table': 'api-breaking',
  'change-type': 'data-format',
  'split-column': 'data-format',
  'drop-column': 'schema-destructive',
  'alter-column': 'data-format',
  'add-primary-key': 'schema-additive',
  'drop-constraint': 'schema-destructive',
  'rename-constraint': 'api-breaking',
  'drop-index': 'schema-destructive',
  'set-replica-identity': 'system',
  'drop-table': 'schema-destructive',
  'create-enum': 'schema-additive',
  'add-enum-value': 'schema-additive',
  'create-type': 'schema-additive',
};

const SYSTEM_NODES = new Set([
  'CreateExtensionStmt',
  'AlterExtensionStmt',
  'AlterSystemStmt',
  'CreatedbStmt',
  'DropdbStmt',
  'AlterDatabaseStmt',
  'AlterDatabaseSetStmt',
  'VacuumStmt',
  'ReindexStmt',
  'ClusterStmt',
  'CreateRoleStmt',
  'AlterRoleStmt',
  'DropRoleStmt',
  'CreateTableSpaceStmt',
  'DropTableSpaceStmt',
  'CreatePublicationStmt',
  'AlterPublicationStmt',
  'CreateSubscriptionStmt',
  'LoadStmt',
]);
const NEUTRAL_NODES = new Set([
  'VariableSetStmt',
  'VariableShowStmt',
  'TransactionStmt',
  'SelectStmt',
  'DoStmt',
  'LockStmt',
  'GrantStmt',
  'ExplainStmt',
  'NotifyStmt',
]);
const API_DROPS = new Set(['OBJECT_VIEW', 'OBJECT_FUNCTION', 'OBJECT_PROCEDURE', 'OBJECT_TYPE', 'OBJECT_DOMAIN', 'OBJECT_MATVIEW']);

/**
 * What an ALTER TABLE on an existing table takes away, if anything: not an
 * addition, though the statement is an ALTER.
 * - `DROP DEFAULT` is api-breaking, like a rename: old writers that leave the
 *   column out fail at once when it is NOT NULL (or store NULL where they got
 *   a value); the linter's catalog does not tell nullability, so it is always
 *   counted so.
 * - `DROP CONSTRAINT` is schema-destructive, like a dropped column: the
 *   guarantee is gone, rows written meanwhile may break it, so adding it back
 *   is no exact undo (and ON CONFLICT on a unique one fails at once).
 */
function removalOf(n: Node, table: string): Change | undefined {
  const cmds = alterCommands(n);
  const dropped = cmds.filter((c) => c.subtype === 'AT_DropConstraint');
  if (dropped.length > 0) return { type: 'schema-destructive', what: `DROP CONSTRAINT ${dropped.map((c) => String(c.name)).join(', ')} on ${table}` };
  const noDefault = cmds.filter((c) => c.subtype === 'AT_ColumnDefault' && c.def === undefined);
  if (noDefault.length > 0) return { type: 'api-breaking', what: `DROP DEFAULT of ${noDefault.map((c) => String(c.name)).join(', ')} on ${table}` };
  return undefined;
}

/**
 * `DROP INDEX` of an existing index is schema-destructive: queries that used it
 * fall back to scans, a unique one's guarantee (and ON CONFLICT on it) is gone,
 * and undoing it is a whole new build.
 */
function droppedIndexes(n: Node): Change {
  return {
    type: 'schema-destructive',
    what: `DROP INDEX ${droppedRelations(n)
      .map((r) => r.relname)
      .join(', ')}`,
  };
}

/** What kind of change one statement makes (before `state` records it), from its findings and its node. */
export function changeOf(s: Statement, n: Node, findings: Finding[], state: ScriptState): Change | undefined {
  const byRule = findings
    .map((f) => ({ type: BY_RULE[f.rule], what: f.message }))
    .filter((c): c is Change => c.type !== undefined)
    .sort((a, b) => RANK[b.type] - RANK[a.type])[0];
  if (byRule) return byRule;
  const rv = rangeVar(n.relation);
  if (SYSTEM_NODES.has(s.node)) return { type: 'system', what: s.node.replace(/Stmt$/, '') };
  if (
    s.node === 'AlterTableStmt' &&
    alterCommands(n).some((c) => c.subtype === 'AT_SetTableSpace' || c.subtype === 'AT_SetLogged' || c.subtype === 'AT_SetUnLogged')
  ) {
    return { type: 'system', what: 'table storage change (tablespace, logging)' };
  }
  if (['UpdateStmt', 'DeleteStmt', 'InsertStmt', 'MergeStmt'].includes(s.node)) {
    // ferry's own bookkeeping (an operation saving what it drops in ferry.saved_definitions) is not the application's data.
    if (rv?.schemaname === 'ferry') return undefined;
    return rv && !state.isNew(rv) ? { type: 'data-format', what: `${s.node.replace('Stmt', '').toUpperCase()} on ${rv.relname}` } : undefined;
  }
  if (s.node === 'AlterTableStmt' && !(rv && state.isNew(rv))) {
    const removal = removalOf(n, rv?.relname ?? '?');
    if (removal) return removal;
  }
  if (s.node === 'DropStmt') {
    if (n.removeType === 'OBJECT_INDEX') return droppedRelations(n).every((r) => state.isNewIndex(r)) ? undefined : droppedIndexes(n);
    const fresh = droppedRelations(n).every((r) => state.isNew(r));
    if (n.removeType === 'OBJECT_SCHEMA' || n.removeType === 'OBJECT_SEQUENCE')
      return { type: 'schema-destructive', what: `DROP ${String(n.removeType).slice(7)}` };
    if (API_DROPS.has(String(n.removeType)) && !fresh) return { type: 'api-breaking', what: `DROP ${String(n.removeType).slice(7)}` };
    return undefined;
  }
  if (s.node === 'RenameStmt' && !(rv && state.isNew(rv))) return { type: 'api-breaking', what: `RENAME ${String(n.renameType).slice(7)}` };
  if (NEUTRAL_NODES.has(s.node)) return undefined;
  return { type: 'schema-additive', what: s.node.replace(/Stmt$/, '') };
}

/** What the classifier knows of one step. */
export interface StepFacts {
  id?: string;
  kind: 'sql' | 'ts' | 'backfill';
  phase?: 'contract';
  op?: string;
  changes: Change[];
}

const RISKS: Risk[] = ['low', 'medium', 'high', 'critical'];
const BASE_RISK: Record<MigrationType, Risk> = {
  'schema-additive': 'low',
  system: 'medium',
  'data-format': 'medium',
  'api-breaking': 'high',
  'schema-destructive': 'high',
};
const DATA_LOSS = new Set(['drop-table', 'drop-column', 'truncate-table']);

/**
 * Infer the migration type (the strongest change counted) and the risk. Steps of
 * an operation count as the operation's kind; the contract steps of an
 * expand/contract change (removing the old shape after the new one is in) do
 * not make the migration destructive by themselves.
 */
export function classify(steps: StepFacts[], findings: Finding[], declared: MigrationType | undefined): Classification {
  const reasons: string[] = [];
  const counted: MigrationType[] = [];
  const hasExpand = steps.some((s) => s.phase !== 'contract');
  let unanalysed = false;
  let hasSystem = false;
  for (const s of steps) {
    const label = s.id ? `step ${s.id}` : 'script';
    if (s.kind === 'backfill') {
      counted.push('data-format');
      reasons.push(`${label}: backfill of existing rows (data-format)`);
    } else if (s.kind === 'ts') {
      unanalysed = true;
      counted.push('data-format');
      reasons.push(`${label}: TypeScript step, not analysed (counted as data-format)`);
    } else if (s.op && OPERATION_TYPES[s.op]) {
      const t = OPERATION_TYPES[s.op] as MigrationType;
      counted.push(t);
      reasons.push(`${label}: part of operation ${s.op} (${t})`);
    } else {
      for (const c of s.changes) {
        if (c.type === 'system') hasSystem = true;
        if (s.phase === 'contract' && hasExpand && RANK[c.type] >= RANK['api-breaking']) {
          reasons.push(`${label} (contract): ${c.what} removes the old shape of an expand/contract change (not counted as ${c.type})`);
          continue;
        }
        counted.push(c.type);
        if (c.type !== 'schema-additive') reasons.push(`${label}: ${c.what} (${c.type})`);
      }
    }
  }
  const nonSystem = counted.filter((t) => t !== 'system');
  const inferred: MigrationType = nonSystem.length > 0 ? nonSystem.reduce((a, b) => (RANK[b] > RANK[a] ? b : a)) : hasSystem ? 'system' : 'schema-additive';
  if (reasons.length === 0) reasons.push(`only additive changes (${inferred})`);

  let risk = BASE_RISK[inferred];
  const raise = (to: Risk, why: string) => {
    if (RISKS.indexOf(to) > RISKS.indexOf(risk)) {
      risk = to;
      reasons.push(`risk ${to}: ${why}`);
    }
  };
  const live = findings.filter((f) => f.status === 'active' || f.status === 'acknowledged');
  const errors = live.filter((f) => f.severity === 'error');
  const contractSteps = new Set(steps.filter((s) => s.phase === 'contract' && hasExpand).map((s) => s.id));
  const loss = errors.filter((f) => DATA_LOSS.has(f.rule) && !contractSteps.has(f.stepId));
  if (live.some((f) => f.severity === 'warning')) raise('medium', 'warning findings');
  if (errors.length) raise('high', `error findings: ${[...new Set(errors.map((f) => f.rule))].join(', ')}`);
  if (loss.length) raise('critical', `data is removed outside a contract phase (${[...new Set(loss.map((f) => f.rule))].join(', ')})`);

  const result: Classification = { inferred, risk, reasons };
  if (declared !== undefined) result.declared = declared;
  const matches = declared === undefined || declared === inferred || (declared === 'system' && hasSystem) || (unanalysed && RANK[declared] >= RANK[inferred]);
  if (declared !== undefined) result.matchesDeclared = matches;
  return result;
}
