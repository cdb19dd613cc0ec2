/** A node of libpg-query's JSON parse tree. */
export type Node = Record<string, unknown>;

/** A table reference in the parse tree (`RangeVar`). */
export interface RangeVar {
  schemaname?: string;
  relname: string;
}

/** `value` as a node, or undefined when it is not an object. */
export function asNode(value: unknown): Node | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Node) : undefined;
}

/** `value` as a list of nodes (an absent list is empty). */
export function asList(value: unknown): Node[] {
  return Array.isArray(value) ? value.filter((v): v is Node => asNode(v) !== undefined) : [];
}

/** The body of a wrapped node (`{ IndexStmt: {…} }` → `{…}`) when its type is `type`. */
export function unwrap(node: unknown, type: string): Node | undefined {
  return asNode(asNode(node)?.[type]);
}

/** The statement node of a parsed statement, e.g. the body of `AlterTableStmt`. */
export function body(tree: Node, node: string): Node {
  return asNode(tree[node]) ?? {};
}

/** A RangeVar from a node, if it is one. */
export function rangeVar(value: unknown): RangeVar | undefined {
  const n = asNode(value) ?? {};
  const inner = asNode(n.RangeVar) ?? n;
  return typeof inner.relname === 'string'
    ? { relname: inner.relname, ...(typeof inner.schemaname === 'string' ? { schemaname: inner.schemaname } : {}) }
    : undefined;
}

/** How a statement names a relation: `users` or `app.users`. */
export function relationName(rv: RangeVar): string {
  return rv.schemaname ? `${rv.schemaname}.${rv.relname}` : rv.relname;
}

/** The strings of a name list (`[{String: {sval}}]`), e.g. a qualified function or type name. */
export function names(value: unknown): string[] {
  return asList(value)
    .map((n) => unwrap(n, 'String')?.sval)
    .filter((s): s is string => typeof s === 'string');
}

/** A qualified name list as a RangeVar (`DROP TABLE app.users` lists `["app", "users"]`). */
export function rangeVarOfNames(list: string[]): RangeVar | undefined {
  const relname = list[list.length - 1];
  if (relname === undefined) return undefined;
  const schemaname = list.length > 1 ? list[list.length - 2] : undefined;
  return schemaname === undefined ? { relname } : { schemaname, relname };
}

/** Visit every node below `value` (depth first), with the key it was found under. */
export function walk(value: unknown, visit: (type: string, node: Node) => void): void {
  if (Array.isArray(value)) {
    for (const v of value) walk(v, visit);
    return;
  }
  const n = asNode(value);
  if (!n) return;
  for (const [k, v] of Object.entries(n)) {
    const child = asNode(v);
    if (child) visit(k, child);
    walk(v, visit);
  }
}

/** The (unqualified, lower-case) names of every function an expression calls. */
export function calledFunctions(expr: unknown): string[] {
  const out: string[] = [];
  walk(expr, (type, node) => {
    if (type !== 'FuncCall') return;
    const name = names(node.funcname).at(-1);
    if (name) out.push(name.toLowerCase());
  });
  return out;
}

/** Every string constant in a tree (`'value'`). */
export function stringConstants(tree: unknown): string[] {
  const out: string[] = [];
  walk(tree, (type, node) => {
    if (type !== 'A_Const') return;
    const s = unwrap(node, 'sval')?.sval;
    if (typeof s === 'string') out.push(s);
  });
  return out;
}

/** The constraints of a column definition. */
export function columnConstraints(columnDef: Node): Node[] {
  return asList(columnDef.constraints)
    .map((c) => unwrap(c, 'Constraint'))
    .filter((c): c is Node => c !== undefined);
}

/** The subcommands of an ALTER TABLE, unwrapped. */
export function alterCommands(stmt: Node): Node[] {
  return asList(stmt.cmds)
    .map((c) => unwrap(c, 'AlterTableCmd'))
    .filter((c): c is Node => c !== undefined);
}

/** Whether a generic option list (`VACUUM (FULL)`, `REINDEX (CONCURRENTLY)`) names `option`, not switched off. */
export function hasOption(options: unknown, option: string): boolean {
  return asList(options).some((o) => {
    const d = unwrap(o, 'DefElem');
    if (d?.defname !== option) return false;
    const arg = asNode(d.arg);
    const v = arg ? (unwrap(arg, 'String')?.sval ?? unwrap(arg, 'Boolean')?.boolval ?? unwrap(arg, 'Integer')?.ival) : undefined;
    return v === undefined || v === true || v === 1 || (typeof v === 'string' && !['false', 'off', '0'].includes(v.toLowerCase()));
  });
}
