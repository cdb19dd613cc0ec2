import type { CatalogColumn } from './catalog.js';
import { asList, asNode, type Node, names, unwrap } from './tree.js';

/** Whether an `ALTER COLUMN … TYPE` rewrites the table (or rebuilds its indexes), and why. */
export interface TypeChangeVerdict {
  rewrite: boolean;
  /** `character varying(20) → text is binary-coercible`, or what makes it a rewrite. */
  reason: string;
}

/** A type as the statement names it, canonical: pg_type's name and the SQL-level modifiers (`numeric(12,2)` → `[12, 2]`). */
interface TypeSpec {
  name: string;
  /** Null when the type has no modifier (unbounded). */
  mods: number[] | null;
}

const DISPLAY: Record<string, string> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  bpchar: 'character',
  varchar: 'character varying',
  varbit: 'bit varying',
  timestamptz: 'timestamp with time zone',
  timetz: 'time with time zone',
};

/** How a type reads in a message: `character varying(20)`, `bigint`. */
function show(t: TypeSpec): string {
  return `${DISPLAY[t.name] ?? t.name}${t.mods ? `(${t.mods.join(',')})` : ''}`;
}

/** The integer of a type modifier constant (`A_Const` with `ival`; libpg-query leaves a zero out). */
function intConst(node: Node): number | undefined {
  const c = unwrap(node, 'A_Const');
  const ival = asNode(c?.ival);
  if (!ival) return undefined;
  return typeof ival.ival === 'number' ? ival.ival : 0;
}

/** The new type of an `ALTER COLUMN … TYPE` command, when it is a built-in type named plainly (no array, no `%TYPE`). */
function statementType(typeName: Node): TypeSpec | undefined {
  const parts = names(typeName.names);
  if (parts.length > 2 || (parts.length === 2 && parts[0] !== 'pg_catalog')) return undefined;
  if (asList(typeName.arrayBounds).length > 0 || typeName.pct_type || typeName.setof) return undefined;
  const mods = asList(typeName.typmods).map(intConst);
  if (mods.some((m) => m === undefined)) return undefined;
  const name = parts.at(-1) as string;
  if (mods.length === 0) return { name, mods: name === 'bpchar' && parts[0] === 'pg_catalog' ? [1] : null };
  if (name === 'numeric' && mods.length === 1) return { name, mods: [mods[0] as number, 0] };
  return { name, mods: mods as number[] };
}

const VARHDRSZ = 4;

/** The column's type in the same terms as {@link statementType}, decoding `atttypmod`. */
function columnType(c: CatalogColumn): TypeSpec {
  const name = c.typeName;
  if (c.typmod < 0) return { name, mods: null };
  switch (name) {
    case 'varchar':
    case 'bpchar':
      return { name, mods: [c.typmod - VARHDRSZ] };
    case 'numeric': {
      const t = c.typmod - VARHDRSZ;
      return { name, mods: [(t >> 16) & 0xffff, ((t & 0x7ff) ^ 1024) - 1024] };
    }
    default:
      return { name, mods: [c.typmod] };
  }
}

const TEMPORAL = new Set(['timestamp', 'timestamptz', 'time', 'timetz']);
/** Precision PostgreSQL gives an unbounded timestamp or time. */
const MAX_TEMPORAL_PRECISION = 6;

/** Whether PostgreSQL 15 changes `from` to `to` without touching a row: binary-coercible, any modifier only widened. */
function binaryCoercible(from: TypeSpec, to: TypeSpec): boolean {
  const same = (a: number[] | null, b: number[] | null) => JSON.stringify(a) === JSON.stringify(b);
  if (from.name === to.name && same(from.mods, to.mods)) return true;
  const [f0, f1] = from.mods ?? [];
  const [t0, t1] = to.mods ?? [];
  if (from.name === 'varchar' && to.name === 'text') return true;
  if ((from.name === 'varchar' || from.name === 'text') && to.name === 'varchar' && to.mods === null) return true;
  if (from.name === 'varchar' && to.name === 'varchar') return f0 !== undefined && t0 !== undefined && t0 >= f0;
  if (from.name === 'numeric' && to.name === 'numeric') return to.mods === null || (f0 !== undefined && t0 !== undefined && t1 === f1 && t0 >= f0);
  if (from.name === 'varbit' && to.name === 'varbit') return to.mods === null || (f0 !== undefined && t0 !== undefined && t0 >= f0);
  if (TEMPORAL.has(from.name) && from.name === to.name) {
    if (to.mods === null) return true;
    return t0 !== undefined && (f0 === undefined ? t0 >= MAX_TEMPORAL_PRECISION : t0 >= f0);
  }
  return from.name === 'cidr' && to.name === 'inet' && to.mods === null;
}

/** Whether a USING expression is the column itself, which changes nothing about the conversion. */
function usingIsColumn(expr: unknown, column: string): boolean {
  const ref = unwrap(expr, 'ColumnRef');
  const fields = names(ref?.fields);
  return ref !== undefined && fields.length === 1 && fields[0] === column;
}

/**
 * Judge an `ALTER COLUMN … TYPE` subcommand against the column as the catalog
 * has it, following PostgreSQL 15 (ATColumnChangeRequiresRewrite and the
 * length-coercion support functions): binary-coercible changes that only widen
 * a modifier (varchar(n) → text / varchar / varchar(m ≥ n), numeric(p,s) →
 * numeric / numeric(q ≥ p,s) …) keep the table and its indexes. Anything not
 * proven safe counts as a rewrite.
 */
export function judgeTypeChange(column: CatalogColumn, cmd: Node): TypeChangeVerdict {
  const def = unwrap(cmd.def, 'ColumnDef') ?? {};
  const to = statementType(asNode(def.typeName) ?? {});
  const from = columnType(column);
  const target = to ? show(to) : names(asNode(def.typeName)?.names).join('.');
  const change = `${column.type} → ${target}`;
  if (def.raw_default !== undefined && !usingIsColumn(def.raw_default, String(cmd.name))) {
    return { rewrite: true, reason: `${change} with a USING expression computes every row` };
  }
  if (column.typeSchema !== 'pg_catalog' || !to || !binaryCoercible(from, to)) {
    return { rewrite: true, reason: `${change} is not binary-coercible` };
  }
  const collation = names(asNode(def.collClause)?.collname).at(-1);
  if (collation !== (column.collation ?? undefined)) {
    const was = column.collation ? `collation "${column.collation}"` : 'default collation';
    const now = collation ? `collation "${collation}"` : "the type's default collation";
    return { rewrite: true, reason: `${change} changes the ${was} to ${now}, which rebuilds the column's indexes` };
  }
  return { rewrite: false, reason: `${change} is binary-coercible: no rewrite` };
}
