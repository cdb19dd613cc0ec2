import type { BackfillStepSpec } from '../backfill/spec.js';
import { ALWAYS_EXCLUDED_SCHEMAS, snapshotSchema } from '../db/catalog.js';
import type { Queryable } from '../db/database.js';
import { FerryError } from '../errors.js';
import type { Migration, Step } from '../migration/loader.js';
import { operationNamed } from './index.js';
import { applyStatement } from './sql-effects.js';
import { quoted, type RelationKind, tableKeyProblems, VirtualSchema } from './virtual-schema.js';

/** The steps `up` is about to run for one migration, in order. */
export interface PendingWork {
  migration: Migration;
  pending: Step[];
}

/** The problems found in one migration's pending steps, each naming the step and the object. */
export interface Misfit {
  migrationId: string;
  problems: string[];
}

const KINDS: Record<string, RelationKind> = { r: 'table', p: 'table', f: 'table', v: 'view', m: 'view', i: 'index', I: 'index', S: 'sequence' };

/** The live catalog as a virtual schema: every relation, each table's columns with their types, its keys and constraint names. */
export async function readVirtualSchema(db: Queryable): Promise<VirtualSchema> {
  const excluded = [...ALWAYS_EXCLUDED_SCHEMAS];
  const path = (await db.query<{ path: string[] }>('SELECT current_schemas(false)::text[] AS path')).rows[0]?.path ?? [];
  const schema = new VirtualSchema(path.length ? path : ['public']);
  const snap = await snapshotSchema(db);
  const { rows: relations } = await db.query<{ schema: string; name: string; kind: string }>(
    `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE left(n.nspname, 3) <> 'pg_' AND n.nspname <> ALL($1::text[]) AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'i', 'I', 'S')`,
    [excluded],
  );
  for (const r of relations) {
    const kind = KINDS[r.kind] ?? 'other';
    const key = `${r.schema}.${r.name}`;
    const table = snap.tables[key];
    // A table the snapshot leaves out (a foreign table, one an extension owns) exists, but ferry does not know its details.
    if (kind === 'table') schema.addTable(key, table ? Object.entries(table.columns).map(([n, c]) => [n, { type: c.type, notNull: c.notNull }]) : [], !!table);
    else schema.relations.set(key, kind);
  }
  for (const [key, c] of Object.entries(snap.constraints)) schema.tables.get(c.table)?.constraints.add(key.slice(c.table.length + 1));
  const { rows: keys } = await db.query<{ table: string; index: string; primary: boolean; columns: string[] }>(
    `SELECT n.nspname || '.' || c.relname AS table, i.relname AS index, x.indisprimary AS primary,
            array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
                   JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns
       FROM pg_index x JOIN pg_class c ON c.oid = x.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace JOIN pg_class i ON i.oid = x.indexrelid
      WHERE x.indisunique AND x.indisvalid AND x.indpred IS NULL AND NOT (0 = ANY (x.indkey::int2[]))
        AND left(n.nspname, 3) <> 'pg_' AND n.nspname <> ALL($1::text[])`,
    [excluded],
  );
  for (const k of keys) {
    const t = schema.tables.get(k.table);
    if (!t) continue;
    t.uniqueKeys.set(k.index, k.columns);
    if (k.primary) t.primaryKey = { name: k.index, columns: k.columns };
  }
  return schema;
}

const list = (cols: string[]) => cols.map(quoted).join(', ');

/** Problems with the key a backfill walks: the table's primary key, or the `key` it names (NOT NULL columns a unique index lies within). */
function backfillProblems(schema: VirtualSchema, spec: BackfillStepSpec): string[] {
  const dot = spec.table.indexOf('.');
  const key = dot < 0 ? schema.qualify(spec.table) : spec.table;
  const set = Object.keys(spec.set ?? {});
  const problems = tableKeyProblems(schema, key, { has: [...set, ...(spec.key ?? [])] });
  const t = schema.known(key);
  if (problems.length > 0 || !t) return problems;
  if (spec.key === undefined) {
    // The engine walks the primary key, else a unique key on NOT NULL columns (src/backfill/plan.ts).
    const usable = t.primaryKey ?? [...t.uniqueKeys.values()].find((cols) => cols.every((c) => t.columns.get(c)?.notNull));
    return usable ? [] : [`table ${key} has no primary key or unique NOT NULL key for the backfill to walk`];
  }
  const nullable = spec.key.filter((c) => !t.columns.get(c)?.notNull);
  if (nullable.length > 0)
    return [`backfill key column${nullable.length > 1 ? 's' : ''} ${list(nullable)} of table ${key} ${nullable.length > 1 ? 'are' : 'is'} nullable`];
  const unique = [t.primaryKey?.columns ?? [], ...t.uniqueKeys.values()].some((cols) => cols.length > 0 && cols.every((c) => spec.key?.includes(c)));
  return unique ? [] : [`backfill key (${list(spec.key)}) of table ${key} is not unique: no primary key or unique index lies within it`];
}

/** The tables an operation spec names, so a half-applied operation's tables can be forgotten. */
function tablesOf(spec: unknown): string[] {
  const s = (spec ?? {}) as Record<string, unknown>;
  return ['table', 'from', 'to'].map((f) => s[f]).filter((v): v is string => typeof v === 'string');
}

/** Check one migration's pending steps in order against `schema`, applying each step's effect after its checks. */
function checkMigration(schema: VirtualSchema, work: PendingWork): string[] {
  const problems: string[] = [];
  const pendingIds = new Set(work.pending.map((s) => s.id));
  const seen = new Set<string>();
  for (const step of work.pending) {
    const o = step.operation;
    const op = o?.step === undefined ? undefined : operationNamed(o.op);
    if (o?.step !== undefined && op?.apply && !seen.has(o.step)) {
      const id = o.step;
      seen.add(id);
      const parts = work.migration.steps.filter((s) => s.operation?.step === id && s.phase !== 'contract');
      if (parts.every((s) => pendingIds.has(s.id))) {
        if (schema.unknown === undefined) problems.push(...(op.check?.(o.spec, schema) ?? []).map((p) => `step ${id}: ${p}`));
        op.apply(o.spec, schema);
      } else {
        // Partly applied (a run stopped in the middle): what is left of it is not checked, and its tables are no longer known.
        for (const t of tablesOf(o.spec)) schema.forget(schema.keyOf(t));
      }
    }
    if (step.backfill) problems.push(...backfillProblems(schema, step.backfill).map((p) => `step ${step.id}: ${p}`));
    else if (step.kind === 'ts') schema.unknown ??= `TypeScript step ${step.id} ran`;
    else if (!op?.apply) for (const s of step.forward?.statements ?? []) applyStatement(schema, s);
  }
  return problems;
}

/**
 * Check pending work in order against `schema`, which starts as the live
 * catalog and takes each step's effect after its checks, so a step that
 * depends on an earlier pending one (a table created in the same migration)
 * fits. Pure; `schema` is changed.
 */
export function checkPending(schema: VirtualSchema, work: PendingWork[]): Misfit[] {
  return work.map((w) => ({ migrationId: w.migration.id, problems: checkMigration(schema, w) })).filter((m) => m.problems.length > 0);
}

/**
 * The problems of `pending` (steps of `migration`) against the target's live
 * catalog, after the effects of `earlier` pending work; each names the step
 * and the object, e.g. `step split-name: table public.users has no column "full_nme"`.
 */
export async function preflightProblems(db: Queryable, migration: Migration, pending: Step[], earlier: PendingWork[] = []): Promise<string[]> {
  const schema = await readVirtualSchema(db);
  checkPending(schema, earlier);
  return checkMigration(schema, { migration, pending });
}

/** Refuse, before anything runs, pending steps that do not fit the target's catalog: one E_MANIFEST error listing every problem. */
export async function refuseMisfits(db: Queryable, work: PendingWork[]): Promise<void> {
  const todo = work.filter((w) => w.pending.length > 0);
  if (todo.length === 0) return;
  const misfits = checkPending(await readVirtualSchema(db), todo);
  if (misfits.length === 0) return;
  const problems = misfits.flatMap((m) => (misfits.length === 1 ? m.problems : m.problems.map((p) => `${m.migrationId}: ${p}`)));
  const which = misfits.length === 1 ? `migration ${misfits[0]?.migrationId} does not` : `migrations ${misfits.map((m) => m.migrationId).join(', ')} do not`;
  throw new FerryError(
    'E_MANIFEST',
    `${which} fit this database (${problems.length} problem${problems.length === 1 ? '' : 's'}):\n  ${problems.join('\n  ')}`,
    'fix the steps named above to match the tables and columns the database has (earlier steps of the same migration count), or apply the migration that creates them first',
    { problems },
  );
}
