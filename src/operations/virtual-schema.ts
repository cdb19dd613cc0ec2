import { tableRef } from './names.js';

/** A column as the preflight sees it: its type as `format_type` spells it, and whether it is NOT NULL. */
export interface VirtualColumn {
  type: string;
  notNull: boolean;
}

/** A table of the virtual schema: its columns and the keys a backfill can walk. */
export interface VirtualTable {
  /** False once SQL ferry does not follow changed it: its columns and keys are then unknown, and nothing about it is checked. */
  known: boolean;
  columns: Map<string, VirtualColumn>;
  /** The primary key (its constraint name and columns, in order); null without one. */
  primaryKey: { name: string; columns: string[] } | null;
  /** Unique indexes on plain columns without a predicate, by index name. */
  uniqueKeys: Map<string, string[]>;
  /** Constraint names on the table. */
  constraints: Set<string>;
}

/** What a relation name is: ordinary tables (and partitioned ones) are `table`. */
export type RelationKind = 'table' | 'view' | 'index' | 'sequence' | 'other';

/**
 * The database as it will be when a pending step runs: the live catalog with
 * the effects of the earlier pending steps applied. Names are `schema.name`.
 * Preflight checks operations against it without touching the database
 * (pgroll runs its operations against an in-memory schema the same way).
 */
export class VirtualSchema {
  /** Tables by `schema.name`. */
  readonly tables = new Map<string, VirtualTable>();
  /** Every relation name (tables, views, indexes, sequences …), by `schema.name`. */
  readonly relations = new Map<string, RelationKind>();
  /** Set once a step ran that may change anything (a TypeScript step, a DO block …): nothing is checked after it. */
  unknown: string | undefined;

  /** `searchPath`: the schemas unqualified names in SQL resolve in, in order (PostgreSQL's `current_schemas(false)`). */
  constructor(readonly searchPath: string[] = ['public']) {}

  /** `schema.name` of a name as SQL resolves it: a qualified name as is, else the first schema on the search path that has it, else where CREATE would put it. */
  qualify(name: string, schema?: string): string {
    if (schema !== undefined) return `${schema}.${name}`;
    for (const s of this.searchPath) if (this.relations.has(`${s}.${name}`)) return `${s}.${name}`;
    return `${this.searchPath[0] ?? 'public'}.${name}`;
  }

  /** `schema.name` of a table as an operation names it (`users` is `public.users`, as operations resolve it). */
  keyOf(table: string): string {
    const t = tableRef(table);
    return `${t.schema}.${t.name}`;
  }

  /** The table under `key`, when its details are known and nothing unknown ran before. */
  known(key: string): VirtualTable | undefined {
    const t = this.tables.get(key);
    return this.unknown === undefined && t?.known ? t : undefined;
  }

  /** Add a table (replacing any under that name). */
  addTable(key: string, columns: [string, VirtualColumn][] = [], known = true): VirtualTable {
    const table: VirtualTable = { known, columns: new Map(columns), primaryKey: null, uniqueKeys: new Map(), constraints: new Set() };
    this.tables.set(key, table);
    this.relations.set(key, 'table');
    return table;
  }

  /** Remove a relation (and, for a table, its indexes, which go with it). */
  drop(key: string): void {
    const table = this.tables.get(key);
    const schema = key.slice(0, key.indexOf('.'));
    for (const index of table?.uniqueKeys.keys() ?? []) this.relations.delete(`${schema}.${index}`);
    this.tables.delete(key);
    this.relations.delete(key);
  }

  /** Rename a relation within its schema. */
  rename(key: string, to: string): void {
    const kind = this.relations.get(key);
    if (kind === undefined) return;
    const target = `${key.slice(0, key.indexOf('.'))}.${to}`;
    const table = this.tables.get(key);
    this.relations.delete(key);
    this.relations.set(target, kind);
    if (table) {
      this.tables.delete(key);
      this.tables.set(target, table);
    }
    if (kind === 'index') for (const t of this.tables.values()) renameKey(t, key.slice(key.indexOf('.') + 1), to);
  }

  /** Forget what is known about a table: it exists, but later checks on it are skipped. */
  forget(key: string): void {
    const table = this.tables.get(key);
    if (table) table.known = false;
    else if (!this.relations.has(key)) this.addTable(key, [], false);
  }

  /** Forget every table of `schema` (a renamed or dropped schema, SQL ferry does not follow). */
  forgetSchema(schema: string): void {
    for (const [key, t] of this.tables) if (key.startsWith(`${schema}.`)) t.known = false;
  }
}

function renameKey(t: VirtualTable, from: string, to: string): void {
  const cols = t.uniqueKeys.get(from);
  if (!cols) return;
  t.uniqueKeys.delete(from);
  t.uniqueKeys.set(to, cols);
}

/** A column name as messages show it: double-quoted like an SQL identifier. */
export const quoted = (c: string): string => `"${c.replaceAll('"', '""')}"`;

/**
 * Problems with `table` as an operation names it: it must be an existing table,
 * having every column of `has` and none of `lacks`. Nothing is reported about a
 * table whose details are unknown.
 */
export function tableProblems(schema: VirtualSchema, table: string, o: { has?: string[]; lacks?: string[] } = {}): string[] {
  return tableKeyProblems(schema, schema.keyOf(table), o);
}

/** {@link tableProblems} for a table given by its `schema.name`. */
export function tableKeyProblems(schema: VirtualSchema, key: string, o: { has?: string[]; lacks?: string[] } = {}): string[] {
  if (schema.unknown !== undefined) return [];
  const kind = schema.relations.get(key);
  if (kind === undefined) return [`table ${key} does not exist`];
  if (kind !== 'table') return [`${key} is ${kind === 'index' ? 'an index' : `a ${kind}`}, not a table`];
  const t = schema.known(key);
  if (!t) return [];
  return [
    ...(o.has ?? []).filter((c) => !t.columns.has(c)).map((c) => `table ${key} has no column ${quoted(c)}`),
    ...(o.lacks ?? []).filter((c) => t.columns.has(c)).map((c) => `table ${key} already has a column ${quoted(c)}`),
  ];
}

/** Problems with creating relation `name` in `table`'s schema (an index or a view): the name must be free. */
export function relationNameProblems(schema: VirtualSchema, table: string, name: string, what: string): string[] {
  if (schema.unknown !== undefined) return [];
  const key = `${tableRef(table).schema}.${name}`;
  const kind = schema.relations.get(key);
  return kind === undefined ? [] : [`${what} ${key} cannot be created: ${kind === 'index' ? 'an index' : `a ${kind}`} of that name exists`];
}

/** Add columns to a known table of the virtual schema. */
export function addColumns(schema: VirtualSchema, table: string, columns: [string, VirtualColumn][]): void {
  const t = schema.tables.get(schema.keyOf(table));
  for (const [name, c] of columns) t?.columns.set(name, c);
}

/** A column's type with PostgreSQL's spelling of it (`int` → `integer`, `varchar(9)` → `character varying(9)`), as far as ferry knows the aliases. */
export function canonicalType(type: string): string {
  const t = type.trim().toLowerCase().replace(/\s+/g, ' ');
  const array = /(\[\])+$/.exec(t)?.[0] ?? '';
  const base = t.slice(0, t.length - array.length).trim();
  const m = /^([a-z_][a-z0-9_ ]*?)\s*(\(([^)]*)\))?(\s+(with|without) time zone)?$/.exec(base);
  if (!m) return t;
  const written = m[1] as string;
  let name = ALIASES[written] ?? written;
  const zone = m[4]?.trim();
  if (zone) name = `${name.split(' ')[0]} ${zone}`;
  const mod = m[3] === undefined ? '' : `(${m[3].replace(/\s+/g, '')})`;
  // PostgreSQL writes the precision of a time type before its zone: timestamp(3) with time zone.
  if (mod && /^(timestamp|time) /.test(name)) return `${name.replace(' ', `${mod} `)}${array}`;
  return `${name}${mod}${array}`;
}

const ALIASES: Record<string, string> = {
  int: 'integer',
  int4: 'integer',
  int8: 'bigint',
  int2: 'smallint',
  serial: 'integer',
  serial4: 'integer',
  bigserial: 'bigint',
  serial8: 'bigint',
  smallserial: 'smallint',
  serial2: 'smallint',
  float4: 'real',
  float8: 'double precision',
  float: 'double precision',
  bool: 'boolean',
  varchar: 'character varying',
  char: 'character',
  bpchar: 'character',
  decimal: 'numeric',
  timestamptz: 'timestamp with time zone',
  timestamp: 'timestamp without time zone',
  timetz: 'time with time zone',
  time: 'time without time zone',
  varbit: 'bit varying',
};

const FAMILIES: Record<string, string> = {
  smallint: 'number',
  integer: 'number',
  bigint: 'number',
  numeric: 'number',
  real: 'number',
  'double precision': 'number',
  text: 'string',
  'character varying': 'string',
  character: 'string',
  name: 'string',
  citext: 'string',
  'timestamp with time zone': 'time',
  'timestamp without time zone': 'time',
  date: 'time',
};

/** The family of comparable types a type belongs to (`number`, `string`, `time`), or the type itself; arrays keep their brackets. */
export function typeFamily(type: string): string {
  const t = canonicalType(type);
  const array = /(\[\])+$/.exec(t)?.[0] ?? '';
  const base = t
    .slice(0, t.length - array.length)
    .replace(/\([^)]*\)/, '')
    .trim();
  return `${FAMILIES[base] ?? base}${array}`;
}
