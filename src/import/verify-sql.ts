/*
 * Verify SQL for an imported migration, derived from its forward script's
 * parse trees: the objects it leaves behind exist, the ones it drops are gone.
 * The script is replayed over a small model of names, so only the end state is
 * checked (a table created then dropped is checked as gone). Unqualified names
 * resolve in the search_path at verify time, as they did when the script ran.
 */

import { quoteIdent, quoteLiteral, quoteQualified } from '../db/quote.js';
import type { Statement } from '../db/sql-script.js';

/** A table, index, view, sequence …: anything `to_regclass` finds. */
interface Name {
  schema?: string;
  name: string;
}

/** One thing the verify SQL checks: an object that must exist (`present`) or must be gone. */
type Fact =
  | { kind: 'relation'; what: string; rel: Name; present: boolean; table?: Name }
  | { kind: 'column' | 'constraint'; table: Name; name: string; present: boolean }
  | { kind: 'type' | 'function'; name: Name; present: boolean }
  | { kind: 'schema' | 'extension'; name: string; present: boolean };

type Node = Record<string, unknown>;

/** PostgreSQL keeps the first NAMEDATALEN - 1 bytes of an identifier, cut on a character boundary. */
const MAX_IDENT_BYTES = 63;

function truncated(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENT_BYTES) return name;
  let out = '';
  for (const c of name) {
    if (Buffer.byteLength(out + c, 'utf8') > MAX_IDENT_BYTES) break;
    out += c;
  }
  return out;
}

function nameOf(schema: unknown, name: string): Name {
  return typeof schema === 'string' ? { schema: truncated(schema), name: truncated(name) } : { name: truncated(name) };
}

/** A RangeVar (`schema.table` as the parser gives it). */
function rangeVar(node: unknown): Name | undefined {
  const r = node as { schemaname?: unknown; relname?: unknown } | undefined;
  return typeof r?.relname === 'string' ? nameOf(r.schemaname, r.relname) : undefined;
}

/** A list of String nodes (`["s", "e"]`), as CREATE TYPE and DROP give names. */
function nameList(node: unknown): Name | undefined {
  const parts = (Array.isArray(node) ? node : []).map((p) => (p as { String?: { sval?: unknown } }).String?.sval);
  if (parts.length === 0 || parts.some((p) => typeof p !== 'string')) return undefined;
  const strings = parts as string[];
  const name = strings.at(-1) as string;
  return nameOf(strings.length > 1 ? strings.at(-2) : undefined, name);
}

const sameName = (a: Name | undefined, b: Name | undefined) => a !== undefined && b !== undefined && a.name === b.name && a.schema === b.schema;

/** The facts of a script so far, in order, keyed so a later statement about the same object replaces an earlier one. */
class EndState {
  private readonly facts = new Map<string, Fact>();

  put(fact: Fact): void {
    const key = keyOf(fact);
    this.facts.delete(key);
    this.facts.set(key, fact);
  }

  /** Forget what was known of objects matching `test` (they were dropped or moved with something else). */
  forget(test: (f: Fact) => boolean): void {
    for (const [key, fact] of [...this.facts]) if (test(fact)) this.facts.delete(key);
  }

  /** Move columns, constraints and indexes of table `from` to table `to` (a rename). */
  moveTable(from: Name, to: Name): void {
    for (const [key, fact] of [...this.facts]) {
      if (!('table' in fact) || !sameName(fact.table, from)) continue;
      this.facts.delete(key);
      const moved = { ...fact, table: to };
      this.facts.set(keyOf(moved), moved);
    }
  }

  all(): Fact[] {
    return [...this.facts.values()];
  }
}

function keyOf(f: Fact): string {
  switch (f.kind) {
    case 'relation':
      return JSON.stringify(['relation', f.rel.schema, f.rel.name]);
    case 'column':
    case 'constraint':
      return JSON.stringify([f.kind, f.table.schema, f.table.name, f.name]);
    case 'type':
    case 'function':
      return JSON.stringify([f.kind, f.name.schema, f.name.name]);
    default:
      return JSON.stringify([f.kind, f.name]);
  }
}

const RELATION_DROPS: Record<string, string> = {
  OBJECT_TABLE: 'table',
  OBJECT_INDEX: 'index',
  OBJECT_VIEW: 'view',
  OBJECT_MATVIEW: 'materialized view',
  OBJECT_SEQUENCE: 'sequence',
  OBJECT_FOREIGN_TABLE: 'foreign table',
};

/** A present fact about something on `table` (a column, constraint or index). */
function onTable(table: Name): (f: Fact) => boolean {
  return (f) => f.present && 'table' in f && sameName(f.table, table);
}

function createTable(state: EndState, tree: Node): void {
  const rel = rangeVar(tree.relation);
  if (!rel) return;
  state.forget((f) => 'table' in f && sameName(f.table, rel));
  state.put({ kind: 'relation', what: 'table', rel, present: true });
  for (const el of (tree.tableElts as Node[] | undefined) ?? []) {
    const col = (el as { ColumnDef?: { colname?: unknown } }).ColumnDef?.colname;
    if (typeof col === 'string') state.put({ kind: 'column', table: rel, name: truncated(col), present: true });
  }
}

function alterTable(state: EndState, tree: Node): void {
  const table = rangeVar(tree.relation);
  if (!table || tree.objtype !== 'OBJECT_TABLE') return;
  for (const c of (tree.cmds as Node[] | undefined) ?? []) {
    const cmd = (c as { AlterTableCmd?: { subtype?: string; name?: string; def?: Node } }).AlterTableCmd;
    if (!cmd) continue;
    const column = (cmd.def as { ColumnDef?: { colname?: unknown } } | undefined)?.ColumnDef?.colname;
    const conname = (cmd.def as { Constraint?: { conname?: unknown } } | undefined)?.Constraint?.conname;
    if (cmd.subtype === 'AT_AddColumn' && typeof column === 'string') state.put({ kind: 'column', table, name: truncated(column), present: true });
    else if (cmd.subtype === 'AT_AddConstraint' && typeof conname === 'string')
      state.put({ kind: 'constraint', table, name: truncated(conname), present: true });
    else if (cmd.subtype === 'AT_DropColumn' && typeof cmd.name === 'string') {
      // Indexes and constraints on the column go with it; which ones the model cannot tell.
      state.forget((f) => onTable(table)(f) && f.kind !== 'column');
      state.put({ kind: 'column', table, name: truncated(cmd.name), present: false });
    } else if (cmd.subtype === 'AT_DropConstraint' && typeof cmd.name === 'string')
      state.put({ kind: 'constraint', table, name: truncated(cmd.name), present: false });
  }
}

function rename(state: EndState, tree: Node): void {
  const rel = rangeVar(tree.relation);
  const to = typeof tree.newname === 'string' ? truncated(tree.newname) : undefined;
  const from = typeof tree.subname === 'string' ? truncated(tree.subname) : undefined;
  if (to === undefined) return;
  const kind = tree.renameType as string;
  if (rel && kind in RELATION_DROPS) {
    // A renamed relation stays in its schema.
    const renamed: Name = rel.schema === undefined ? { name: to } : { schema: rel.schema, name: to };
    state.moveTable(rel, renamed);
    state.forget((f) => f.kind === 'relation' && sameName(f.rel, rel));
    state.put({ kind: 'relation', what: RELATION_DROPS[kind] as string, rel, present: false });
    state.put({ kind: 'relation', what: RELATION_DROPS[kind] as string, rel: renamed, present: true });
  } else if (rel && from !== undefined && (kind === 'OBJECT_COLUMN' || kind === 'OBJECT_TABCONSTRAINT')) {
    const what = kind === 'OBJECT_COLUMN' ? 'column' : 'constraint';
    state.put({ kind: what, table: rel, name: from, present: false });
    state.put({ kind: what, table: rel, name: to, present: true });
  } else if (kind === 'OBJECT_SCHEMA' && from !== undefined) {
    state.forget((f) => relationSchema(f) === from);
    state.put({ kind: 'schema', name: from, present: false });
    state.put({ kind: 'schema', name: to, present: true });
  }
}

/** The schema an object was named in, when it was qualified. */
function relationSchema(f: Fact): string | undefined {
  if (f.kind === 'relation') return f.rel.schema;
  if (f.kind === 'column' || f.kind === 'constraint') return f.table.schema;
  if (f.kind === 'type' || f.kind === 'function') return f.name.schema;
  return undefined;
}

function drop(state: EndState, tree: Node): void {
  const type = tree.removeType as string;
  if (tree.behavior === 'DROP_CASCADE') {
    // CASCADE takes dependent objects the model does not know of: check only what is left certain.
    state.forget((f) => f.present);
  }
  for (const object of (tree.objects as unknown[] | undefined) ?? []) {
    const o = object as { List?: { items?: unknown }; TypeName?: { names?: unknown }; String?: { sval?: unknown }; ObjectWithArgs?: { objname?: unknown } };
    const relation = RELATION_DROPS[type];
    if (relation !== undefined) {
      const rel = nameList(o.List?.items);
      if (!rel) continue;
      state.forget((f) => ('table' in f && sameName(f.table, rel)) || (f.kind === 'relation' && sameName(f.rel, rel)));
      state.put({ kind: 'relation', what: relation, rel, present: false });
    } else if (type === 'OBJECT_TYPE' || type === 'OBJECT_DOMAIN') {
      const name = nameList(o.TypeName?.names);
      if (name) state.put({ kind: 'type', name, present: false });
    } else if (type === 'OBJECT_FUNCTION' || type === 'OBJECT_PROCEDURE' || type === 'OBJECT_ROUTINE') {
      // One overload goes; others of the same name may stay, so nothing is checked either way.
      const name = nameList(o.ObjectWithArgs?.objname);
      if (name) state.forget((f) => f.kind === 'function' && sameName(f.name, name));
    } else if ((type === 'OBJECT_SCHEMA' || type === 'OBJECT_EXTENSION') && typeof o.String?.sval === 'string') {
      const name = truncated(o.String.sval);
      if (type === 'OBJECT_SCHEMA') state.forget((f) => relationSchema(f) === name);
      state.put({ kind: type === 'OBJECT_SCHEMA' ? 'schema' : 'extension', name, present: false });
    }
  }
}

/** Replay one statement over the model; statements it does not understand change nothing it checks. */
function replay(state: EndState, node: string, tree: Node): void {
  switch (node) {
    case 'CreateStmt':
      createTable(state, tree);
      return;
    case 'CreateTableAsStmt': {
      const into = tree.into as { rel?: unknown } | undefined;
      const rel = rangeVar(into?.rel);
      const what = tree.objtype === 'OBJECT_MATVIEW' ? 'materialized view' : 'table';
      if (rel) state.put({ kind: 'relation', what, rel, present: true });
      return;
    }
    case 'ViewStmt': {
      const rel = rangeVar(tree.view);
      if (rel) state.put({ kind: 'relation', what: 'view', rel, present: true });
      return;
    }
    case 'CreateSeqStmt': {
      const rel = rangeVar(tree.sequence);
      if (rel) state.put({ kind: 'relation', what: 'sequence', rel, present: true });
      return;
    }
    case 'IndexStmt': {
      const table = rangeVar(tree.relation);
      // An index lives in its table's schema.
      if (table && typeof tree.idxname === 'string')
        state.put({ kind: 'relation', what: 'index', rel: nameOf(table.schema, tree.idxname), present: true, table });
      return;
    }
    case 'AlterTableStmt':
      alterTable(state, tree);
      return;
    case 'RenameStmt':
      rename(state, tree);
      return;
    case 'DropStmt':
      drop(state, tree);
      return;
    case 'CreateEnumStmt':
    case 'CreateDomainStmt': {
      const name = nameList(node === 'CreateEnumStmt' ? tree.typeName : tree.domainname);
      if (name) state.put({ kind: 'type', name, present: true });
      return;
    }
    case 'CompositeTypeStmt': {
      const name = rangeVar(tree.typevar);
      if (name) state.put({ kind: 'type', name, present: true });
      return;
    }
    case 'CreateFunctionStmt': {
      const name = nameList(tree.funcname);
      if (name) state.put({ kind: 'function', name, present: true });
      return;
    }
    case 'CreateSchemaStmt': {
      const role = tree.authrole as { rolename?: unknown } | undefined;
      const name = typeof tree.schemaname === 'string' ? tree.schemaname : role?.rolename;
      if (typeof name === 'string') state.put({ kind: 'schema', name: truncated(name), present: true });
      return;
    }
    case 'CreateExtensionStmt':
      if (typeof tree.extname === 'string') state.put({ kind: 'extension', name: tree.extname, present: true });
      return;
    case 'AlterObjectSchemaStmt': {
      // Moved to another schema: what was known under the old name no longer holds.
      const rel = rangeVar(tree.relation);
      if (rel) state.forget((f) => ('table' in f && sameName(f.table, rel)) || (f.kind === 'relation' && sameName(f.rel, rel)));
      return;
    }
  }
}

/** `"s"."t"` or `"t"`: the text `to_regclass` and `to_regtype` read with quote_ident semantics. */
function regName(n: Name): string {
  return n.schema === undefined ? quoteIdent(n.name) : quoteQualified(n.schema, n.name);
}

/** A name for the comment line: never a line break, which would end the comment. */
function shown(n: Name | string): string {
  const text = typeof n === 'string' ? quoteIdent(n) : regName(n);
  return text.replaceAll('\r', '\\r').replaceAll('\n', '\\n');
}

function check(f: Fact): string {
  const is = f.present ? 'exists' : 'is gone';
  const exists = f.present ? 'EXISTS' : 'NOT EXISTS';
  switch (f.kind) {
    case 'relation':
      return `-- ${f.what} ${shown(f.rel)} ${is}\nSELECT to_regclass(${quoteLiteral(regName(f.rel))}) IS ${f.present ? 'NOT NULL' : 'NULL'};`;
    case 'column':
      return `-- column ${shown(f.name)} of ${shown(f.table)} ${is}\nSELECT ${exists} (SELECT FROM pg_attribute WHERE attrelid = to_regclass(${quoteLiteral(regName(f.table))}) AND attname = ${quoteLiteral(f.name)} AND attnum > 0 AND NOT attisdropped);`;
    case 'constraint':
      return `-- constraint ${shown(f.name)} of ${shown(f.table)} ${is}\nSELECT ${exists} (SELECT FROM pg_constraint WHERE conrelid = to_regclass(${quoteLiteral(regName(f.table))}) AND conname = ${quoteLiteral(f.name)});`;
    case 'type':
      return `-- type ${shown(f.name)} ${is}\nSELECT to_regtype(${quoteLiteral(regName(f.name))}) IS ${f.present ? 'NOT NULL' : 'NULL'};`;
    case 'function': {
      const schema = f.name.schema === undefined ? 'n.nspname = ANY (current_schemas(true))' : `n.nspname = ${quoteLiteral(f.name.schema)}`;
      return `-- function ${shown(f.name)} ${is} (any overload)\nSELECT ${exists} (SELECT FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.proname = ${quoteLiteral(f.name.name)} AND ${schema});`;
    }
    case 'schema':
      return `-- schema ${shown(f.name)} ${is}\nSELECT ${exists} (SELECT FROM pg_namespace WHERE nspname = ${quoteLiteral(f.name)});`;
    case 'extension':
      return `-- extension ${shown(f.name)} ${is}\nSELECT ${exists} (SELECT FROM pg_extension WHERE extname = ${quoteLiteral(f.name)});`;
  }
}

/**
 * Verify SQL for a forward script: one query per object the script leaves
 * created (or dropped), each true when the database is in that end state; ''
 * when nothing is checkable (data changes, statements it does not model).
 */
export function verifySqlFor(statements: Statement[]): string {
  const state = new EndState();
  for (const s of statements) {
    const tree = s.tree[s.node];
    if (tree !== null && typeof tree === 'object') replay(state, s.node, tree as Node);
  }
  const checks = state.all().map(check);
  return checks.length === 0 ? '' : `${checks.join('\n')}\n`;
}
