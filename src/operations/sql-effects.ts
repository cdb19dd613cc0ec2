import { alterCommands, asList, asNode, columnConstraints, type Node, names, type RangeVar, rangeVar, rangeVarOfNames, unwrap } from '../lint/tree.js';
import { canonicalType, type RelationKind, type VirtualColumn, type VirtualSchema, type VirtualTable } from './virtual-schema.js';

/** A statement as the loader parsed it (see src/db/sql-script.ts). */
export interface ParsedStatement {
  node: string;
  tree: Record<string, unknown>;
}

const words = (...groups: string[]) => new Set(groups.join(' ').split(/\s+/).filter(Boolean));

/** Statements that change no table's columns or keys, nor any relation's name. */
const NEUTRAL = words(
  'SelectStmt InsertStmt UpdateStmt DeleteStmt MergeStmt CopyStmt TruncateStmt', // data
  'CommentStmt GrantStmt GrantRoleStmt AlterDefaultPrivilegesStmt AlterOwnerStmt SecLabelStmt', // comments and privileges
  'CreateRoleStmt AlterRoleStmt DropRoleStmt CreatePolicyStmt AlterPolicyStmt RuleStmt',
  'CreateFunctionStmt AlterFunctionStmt CreateTrigStmt CreateEventTrigStmt', // code
  'CreateEnumStmt AlterEnumStmt CompositeTypeStmt CreateDomainStmt AlterDomainStmt DefineStmt CreateCastStmt', // types
  'CreateExtensionStmt AlterExtensionStmt AlterSeqStmt CreateStatsStmt CreatePublicationStmt AlterPublicationStmt',
  'VariableSetStmt VariableShowStmt TransactionStmt LockStmt NotifyStmt ListenStmt DiscardStmt ExplainStmt', // sessions
  'VacuumStmt ClusterStmt ReindexStmt CheckPointStmt RefreshMatViewStmt', // maintenance
);

/** ALTER TABLE subcommands that change no column, type, NOT NULL or key. */
const NEUTRAL_ALTERS = words(
  'AT_ColumnDefault AT_CookedColumnDefault AT_ValidateConstraint AT_SetStatistics AT_SetStorage AT_SetCompression',
  'AT_SetOptions AT_ResetOptions AT_SetRelOptions AT_ResetRelOptions AT_ReplaceRelOptions AT_ClusterOn AT_DropCluster',
  'AT_EnableTrig AT_EnableAlwaysTrig AT_EnableReplicaTrig AT_EnableTrigAll AT_EnableTrigUser AT_DisableTrig AT_DisableTrigAll AT_DisableTrigUser',
  'AT_EnableRule AT_EnableAlwaysRule AT_EnableReplicaRule AT_DisableRule',
  'AT_EnableRowSecurity AT_DisableRowSecurity AT_ForceRowSecurity AT_NoForceRowSecurity',
  'AT_ChangeOwner AT_ReplicaIdentity AT_SetLogged AT_SetUnLogged AT_SetIdentity AT_DropIdentity',
);

/** The type of a column definition, spelled as `format_type` spells it. */
export function typeNameText(typeName: unknown): string {
  const t = asNode(typeName) ?? {};
  const name = names(t.names).at(-1) ?? 'unknown';
  const mods = asList(t.typmods)
    .map((m) => unwrap(m, 'A_Const'))
    // The parser leaves out an ival of 0 (numeric(10, 0)).
    .map((c) => (asNode(c?.ival) ? (asNode(c?.ival)?.ival ?? 0) : undefined))
    .filter((v) => v !== undefined);
  const array = '[]'.repeat(asList(t.arrayBounds).length);
  return canonicalType(`${name}${mods.length ? `(${mods.join(',')})` : ''}${array}`);
}

const SERIAL = /^(small|big)?serial[248]?$/;

function column(def: Node): [string, VirtualColumn] {
  const written = names(asNode(def.typeName)?.names).at(-1) ?? '';
  const constraints = columnConstraints(def).map((c) => c.contype);
  const notNull = SERIAL.test(written) || constraints.some((c) => c === 'CONSTR_NOTNULL' || c === 'CONSTR_PRIMARY' || c === 'CONSTR_IDENTITY');
  return [String(def.colname), { type: typeNameText(def.typeName), notNull }];
}

const keysOf = (c: Node): string[] => names(c.keys);

/** Record a PRIMARY KEY or UNIQUE constraint (from CREATE TABLE or ALTER TABLE ADD CONSTRAINT) on `t`. */
function addKey(t: VirtualTable, table: string, c: Node, columnName?: string): void {
  const cols = columnName === undefined ? keysOf(c) : [columnName];
  const fromIndex = typeof c.indexname === 'string' ? t.uniqueKeys.get(c.indexname) : undefined;
  const keyCols = cols.length ? cols : (fromIndex ?? []);
  if (typeof c.conname === 'string') t.constraints.add(c.conname);
  if (keyCols.length === 0) return;
  if (c.contype === 'CONSTR_PRIMARY') {
    const name = typeof c.conname === 'string' ? c.conname : `${table}_pkey`;
    t.primaryKey = { name, columns: keyCols };
    for (const k of keyCols) {
      const col = t.columns.get(k);
      if (col) col.notNull = true;
    }
  } else if (c.contype === 'CONSTR_UNIQUE') {
    const name = typeof c.conname === 'string' ? c.conname : `${table}_${keyCols.join('_')}_key`;
    t.uniqueKeys.set(name, keyCols);
  }
}

function createTable(schema: VirtualSchema, stmt: Node): void {
  const rv = rangeVar(stmt.relation);
  if (!rv) return;
  const key = `${rv.schemaname ?? schema.searchPath[0] ?? 'public'}.${rv.relname}`;
  if (stmt.if_not_exists === true && schema.relations.has(key)) return;
  const elements = asList(stmt.tableElts);
  const plain = elements.every((e) => unwrap(e, 'ColumnDef') || unwrap(e, 'Constraint'));
  if (!plain || stmt.inhRelations !== undefined || stmt.partbound !== undefined || stmt.ofTypename !== undefined) {
    schema.addTable(key, [], false);
    return;
  }
  const defs = elements.map((e) => unwrap(e, 'ColumnDef')).filter((d): d is Node => d !== undefined);
  const t = schema.addTable(key, defs.map(column));
  for (const d of defs) for (const c of columnConstraints(d)) addKey(t, rv.relname, c, String(d.colname));
  for (const c of elements.map((e) => unwrap(e, 'Constraint')).filter((c): c is Node => c !== undefined)) addKey(t, rv.relname, c);
}

function dropColumn(t: VirtualTable, name: string): void {
  t.columns.delete(name);
  if (t.primaryKey?.columns.includes(name)) t.primaryKey = null;
  for (const [k, cols] of t.uniqueKeys) if (cols.includes(name)) t.uniqueKeys.delete(k);
}

function alterTable(schema: VirtualSchema, stmt: Node): void {
  const rv = rangeVar(stmt.relation);
  if (!rv) return;
  const key = schema.qualify(rv.relname, rv.schemaname);
  if (stmt.objtype !== 'OBJECT_TABLE') {
    if (stmt.objtype === 'OBJECT_FOREIGN_TABLE') schema.forget(key);
    return;
  }
  const t = schema.tables.get(key);
  if (!t?.known) return;
  for (const cmd of alterCommands(stmt)) {
    const name = typeof cmd.name === 'string' ? cmd.name : '';
    const def = asNode(cmd.def) ?? {};
    const col = t.columns.get(name);
    switch (cmd.subtype) {
      case 'AT_AddColumn': {
        const d = unwrap(def, 'ColumnDef');
        if (!d) break;
        const [n, c] = column(d);
        if (cmd.missing_ok === true && t.columns.has(n)) break;
        t.columns.set(n, c);
        for (const k of columnConstraints(d)) addKey(t, rv.relname, k, n);
        break;
      }
      case 'AT_DropColumn':
        dropColumn(t, name);
        break;
      case 'AT_AlterColumnType':
        if (col) col.type = typeNameText(unwrap(def, 'ColumnDef')?.typeName);
        break;
      case 'AT_SetNotNull':
      case 'AT_AddIdentity':
        if (col) col.notNull = true;
        break;
      case 'AT_DropNotNull':
        if (col) col.notNull = false;
        break;
      case 'AT_AddConstraint': {
        const c = unwrap(def, 'Constraint');
        if (c) addKey(t, rv.relname, c);
        break;
      }
      case 'AT_DropConstraint':
        t.constraints.delete(name);
        t.uniqueKeys.delete(name);
        if (t.primaryKey?.name === name) t.primaryKey = null;
        break;
      default:
        if (!NEUTRAL_ALTERS.has(String(cmd.subtype))) t.known = false;
    }
  }
}

function keyOfNames(schema: VirtualSchema, list: string[]): string | undefined {
  const rv = rangeVarOfNames(list);
  return rv ? schema.qualify(rv.relname, rv.schemaname) : undefined;
}

function rename(schema: VirtualSchema, stmt: Node): void {
  const rv = rangeVar(stmt.relation);
  const to = String(stmt.newname);
  if (stmt.renameType === 'OBJECT_SCHEMA') {
    schema.unknown = `schema ${String(stmt.subname)} is renamed`;
    return;
  }
  if (!rv) return;
  const key = schema.qualify(rv.relname, rv.schemaname);
  const t = schema.tables.get(key);
  switch (stmt.renameType) {
    case 'OBJECT_COLUMN': {
      const col = t?.columns.get(String(stmt.subname));
      if (!t || !col) return;
      t.columns.delete(String(stmt.subname));
      t.columns.set(to, col);
      const rekey = (cols: string[]) => cols.map((c) => (c === stmt.subname ? to : c));
      if (t.primaryKey) t.primaryKey = { ...t.primaryKey, columns: rekey(t.primaryKey.columns) };
      for (const [k, cols] of t.uniqueKeys) t.uniqueKeys.set(k, rekey(cols));
      return;
    }
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_SEQUENCE':
    case 'OBJECT_INDEX':
    case 'OBJECT_FOREIGN_TABLE':
      schema.rename(key, to);
      return;
    case 'OBJECT_TABCONSTRAINT':
      if (t?.constraints.delete(String(stmt.subname))) t.constraints.add(to);
      return;
  }
}

function drop(schema: VirtualSchema, stmt: Node): void {
  const lists = asList(stmt.objects).map((o) => names(unwrap(o, 'List')?.items));
  switch (stmt.removeType) {
    case 'OBJECT_TABLE':
    case 'OBJECT_VIEW':
    case 'OBJECT_MATVIEW':
    case 'OBJECT_SEQUENCE':
    case 'OBJECT_FOREIGN_TABLE':
      for (const l of lists) {
        const key = keyOfNames(schema, l);
        if (key) schema.drop(key);
      }
      return;
    case 'OBJECT_INDEX':
      for (const l of lists) {
        const key = keyOfNames(schema, l);
        if (!key) continue;
        const index = key.slice(key.indexOf('.') + 1);
        schema.relations.delete(key);
        for (const t of schema.tables.values()) {
          t.uniqueKeys.delete(index);
          if (t.primaryKey?.name === index) t.primaryKey = null;
        }
      }
      return;
    case 'OBJECT_SCHEMA':
      for (const s of asList(stmt.objects).map((o) => unwrap(o, 'String')?.sval)) {
        for (const key of [...schema.relations.keys()]) if (key.startsWith(`${String(s)}.`)) schema.drop(key);
      }
      return;
  }
}

function createIndex(schema: VirtualSchema, stmt: Node): void {
  const rv = rangeVar(stmt.relation);
  if (!rv) return;
  const tableKey = schema.qualify(rv.relname, rv.schemaname);
  const name = typeof stmt.idxname === 'string' ? stmt.idxname : undefined;
  const indexKey = name === undefined ? undefined : `${tableKey.slice(0, tableKey.indexOf('.'))}.${name}`;
  if (indexKey && stmt.if_not_exists === true && schema.relations.has(indexKey)) return;
  if (indexKey) schema.relations.set(indexKey, 'index');
  const params = asList(stmt.indexParams).map((p) => unwrap(p, 'IndexElem'));
  const cols = params.map((p) => (typeof p?.name === 'string' ? p.name : undefined));
  const t = schema.tables.get(tableKey);
  if (t && name && stmt.unique === true && stmt.whereClause === undefined && cols.every((c) => c !== undefined)) t.uniqueKeys.set(name, cols as string[]);
}

function moveToSchema(schema: VirtualSchema, stmt: Node): void {
  const rv = rangeVar(stmt.relation);
  if (!rv || !['OBJECT_TABLE', 'OBJECT_VIEW', 'OBJECT_MATVIEW', 'OBJECT_SEQUENCE', 'OBJECT_FOREIGN_TABLE'].includes(String(stmt.objectType))) return;
  const key = schema.qualify(rv.relname, rv.schemaname);
  const kind = schema.relations.get(key);
  const t = schema.tables.get(key);
  if (kind === undefined) return;
  schema.drop(key);
  const target = `${String(stmt.newschema)}.${rv.relname}`;
  if (t) {
    schema.tables.set(target, t);
    schema.relations.set(target, 'table');
  } else schema.relations.set(target, kind);
}

function addRelation(schema: VirtualSchema, rv: RangeVar | undefined, kind: RelationKind): void {
  if (rv) schema.relations.set(`${rv.schemaname ?? schema.searchPath[0] ?? 'public'}.${rv.relname}`, kind);
}

function createTableAs(schema: VirtualSchema, stmt: Node): void {
  const rv = rangeVar(asNode(stmt.into)?.rel);
  if (stmt.objtype === 'OBJECT_MATVIEW') addRelation(schema, rv, 'view');
  else if (rv) schema.addTable(`${rv.schemaname ?? schema.searchPath[0] ?? 'public'}.${rv.relname}`, [], false);
}

/** What each statement ferry follows does to the virtual schema. */
const EFFECTS: Record<string, (schema: VirtualSchema, stmt: Node) => void> = {
  CreateStmt: createTable,
  CreateTableAsStmt: createTableAs,
  AlterTableStmt: alterTable,
  RenameStmt: rename,
  DropStmt: drop,
  IndexStmt: createIndex,
  AlterObjectSchemaStmt: moveToSchema,
  ViewStmt: (schema, stmt) => addRelation(schema, rangeVar(stmt.view), 'view'),
  CreateSeqStmt: (schema, stmt) => addRelation(schema, rangeVar(stmt.sequence), 'sequence'),
  CreateSchemaStmt: (schema, stmt) => {
    if (asList(stmt.schemaElts).length > 0) schema.unknown = 'a CREATE SCHEMA with elements ran';
  },
};

/**
 * Apply one parsed SQL statement's effect on tables to `schema`: CREATE TABLE,
 * ALTER TABLE (ADD / DROP / ALTER TYPE / RENAME COLUMN, NOT NULL, keys), RENAME
 * and DROP of tables, indexes and views, SET SCHEMA. A table altered in a way
 * ferry does not follow is forgotten (its checks are skipped); a statement that
 * may change anything (DO, CALL …) makes the whole schema unknown.
 */
export function applyStatement(schema: VirtualSchema, stmt: ParsedStatement): void {
  if (schema.unknown !== undefined) return;
  const effect = EFFECTS[stmt.node];
  if (effect) effect(schema, asNode(stmt.tree[stmt.node]) ?? {});
  else if (!NEUTRAL.has(stmt.node)) schema.unknown = `a ${stmt.node.replace(/Stmt$/, '')} statement ran`;
}
