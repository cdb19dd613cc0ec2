import type { Queryable } from '../db/database.js';
import { type CopiedTable, countTableRows } from '../db/sample-copy.js';
import { findTable } from '../db/table-copy.js';
import { asNode, walk } from '../lint/tree.js';
import type { Step } from '../migration/loader.js';

/** Rows of one table a step touched: in the rehearsal's copy and in the source. */
export interface TouchedTable {
  /** `schema.table`. */
  table: string;
  rehearsalRows: number;
  sourceRows: number;
  /** `sourceRows` is the planner's estimate (over a million rows). */
  sourceRowsEstimated: boolean;
}

/** What one step of a rehearsal ran on. */
export interface RehearsalStepData {
  stepId: string;
  kind: Step['kind'];
  /** The existing tables its SQL (or backfill) names; tables it creates are not listed. */
  tables: TouchedTable[];
  /** Why its tables cannot be known (a TypeScript step, a DO block): the rehearsal then copied every table. */
  tablesUnknown?: string;
  /** Rows it changed in the rehearsal's first up: its statements' affected rows, or the rows a backfill filled; null when it did not run. */
  rowsChanged: number | null;
  /** It works on tables that all were empty in the rehearsal: it proves the SQL, not the data. */
  ranOnEmptyTables: boolean;
}

/** What data the rehearsal's copy held. */
export interface RehearsalData {
  /** `sample`: up to `sampleRows` rows per table; `all`: every row; `schema`: none (schema only). */
  mode: 'sample' | 'all' | 'schema';
  sampleRows: number | null;
  /** The tables copied (those the steps touch and those they reference), with their figures. */
  tables: CopiedTable[];
  /** Set when every table was copied because a step's tables cannot be known. */
  allTables?: string;
}

/** The wording of a step that ran on empty tables. */
export const EMPTY_TABLE_NOTE = 'ran on an empty table: proves the SQL, not the data';

/** The relations a step's SQL names (or its backfill's table), or why they cannot be known. */
export function namedRelations(step: Step): { names: string[]; unknown?: string } {
  if (step.kind === 'backfill') return { names: step.backfill ? [step.backfill.table] : [] };
  if (step.kind === 'ts') return { names: [], unknown: 'a TypeScript step' };
  const names = new Set<string>();
  for (const s of step.forward?.statements ?? []) {
    if (s.node === 'DoStmt' || s.node === 'CallStmt') return { names: [], unknown: `a ${s.node.replace(/Stmt$/, '')} statement` };
    walk(s.tree, (_type, node) => {
      const n = asNode(node);
      if (typeof n?.relname === 'string') names.add(typeof n.schemaname === 'string' ? `${n.schemaname}.${n.relname}` : n.relname);
    });
  }
  return { names: [...names] };
}

/** The existing tables (schema and name) of `db` that `names` resolve to; names of other relations, or of none, are left out. */
export async function resolveTables(db: Queryable, names: readonly string[]): Promise<{ schema: string; name: string }[]> {
  const out = new Map<string, { schema: string; name: string }>();
  for (const n of names) {
    const t = await findTable(db, n);
    if (t) out.set(`${t.schema}.${t.name}`, { schema: t.schema, name: t.name });
  }
  return [...out.values()];
}

/** Every user table of `db` (not partitions, not ferry's own), for steps whose tables cannot be known. */
export async function userTables(db: Queryable): Promise<{ schema: string; name: string }[]> {
  const { rows } = await db.query<{ schema: string; name: string }>(
    `SELECT n.nspname AS schema, c.relname AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE 'ferry%'
      ORDER BY 1, 2`,
  );
  return rows;
}

/** The rows of `tables` in the copy and in the source (from the copy's figures when it made them, else counted). */
export async function touchedTables(
  copy: Queryable,
  source: Queryable,
  tables: readonly { schema: string; name: string }[],
  copied: readonly CopiedTable[],
): Promise<TouchedTable[]> {
  const out: TouchedTable[] = [];
  for (const t of tables) {
    const name = `${t.schema}.${t.name}`;
    const inCopy = await findTable(copy, t);
    const inSource = await findTable(source, t);
    const known = copied.find((c) => c.table === name);
    const src = known
      ? { rows: known.sourceRows, estimated: known.sourceRowsEstimated }
      : inSource
        ? await countTableRows(source, inSource)
        : { rows: 0, estimated: false };
    out.push({ table: name, rehearsalRows: inCopy ? (await countTableRows(copy, inCopy)).rows : 0, sourceRows: src.rows, sourceRowsEstimated: src.estimated });
  }
  return out;
}

/** The summary line of a rehearsal: never just "passed" when a step ran on empty tables. */
export function rehearsalSummary(ok: boolean, failedAt: readonly string[], data: RehearsalData, steps: readonly RehearsalStepData[]): string {
  if (!ok) return `rehearsal FAILED at: ${failedAt.join(', ')}`;
  const empty = steps.filter((s) => s.ranOnEmptyTables).length;
  const schemaOnly = data.mode === 'schema' || data.tables.every((t) => t.copied === 0);
  const withData =
    data.mode === 'all'
      ? ' with data (all rows)'
      : data.mode === 'sample'
        ? ` with data (up to ${data.sampleRows?.toLocaleString('en-US')} rows per table)`
        : '';
  if (empty > 0) return `rehearsal passed (${schemaOnly ? 'schema only: ' : ''}${empty} step${empty === 1 ? '' : 's'} ran on empty tables)`;
  return `rehearsal passed${schemaOnly ? ' (schema only)' : withData}: the rollback restores the schema`;
}
