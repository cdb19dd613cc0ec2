import type { ColumnSnapshot, SchemaSnapshot, SequenceSnapshot, TableSnapshot } from './catalog-snapshot.js';
import { quoteLiteral } from './quote.js';

/**
 * One difference between two snapshots. `object` is the object's kind and
 * schema-qualified name (`index public.users_email_idx`, `column public.users.email`);
 * `before`/`after` describe it on each side where it exists.
 */
export interface SchemaChange {
  kind: 'added' | 'removed' | 'changed';
  object: string;
  before?: string;
  after?: string;
}

/** Object kinds in the order changes are listed: containers before their contents. */
const KIND_ORDER = [
  'schema',
  'extension',
  'enum',
  'sequence',
  'table',
  'column',
  'constraint',
  'index',
  'view',
  'materialized view',
  'function',
  'window function',
  'procedure',
  'trigger',
] as const;
type ObjectKind = (typeof KIND_ORDER)[number];

interface Entry {
  kind: ObjectKind;
  name: string;
  description: string;
  /** For a table: the description with its columns, used when the whole table comes or goes. */
  whole?: string;
  /** For a column: its table's name; columns of an added or removed table are not listed on their own. */
  table?: string;
}

function describeColumn(c: ColumnSnapshot): string {
  const parts = [c.type];
  if (c.collation !== null) parts.push(`COLLATE ${c.collation}`);
  parts.push(c.notNull ? 'NOT NULL' : 'NULL');
  if (c.generated !== null) parts.push(`GENERATED ALWAYS AS (${c.default ?? ''}) ${c.generated.toUpperCase()}`);
  else if (c.default !== null) parts.push(`DEFAULT ${c.default}`);
  if (c.identity !== null) parts.push(`GENERATED ${c.identity.toUpperCase()} AS IDENTITY`);
  return parts.join(' ');
}

function describeTable(t: TableSnapshot): string {
  const parts: string[] = [];
  if (t.unlogged) parts.push('UNLOGGED');
  parts.push(t.kind);
  if (t.partitionOf !== null) parts.push(`PARTITION OF ${t.partitionOf}`);
  if (t.partitionKey !== null) parts.push(`PARTITION BY ${t.partitionKey}`);
  if (t.rowSecurity) parts.push('ROW LEVEL SECURITY');
  return parts.join(' ');
}

function describeSequence(s: SequenceSnapshot): string {
  const parts = [s.type, `START ${s.start}`, `INCREMENT ${s.increment}`, `MINVALUE ${s.min}`, `MAXVALUE ${s.max}`, `CACHE ${s.cache}`];
  if (s.cycle) parts.push('CYCLE');
  if (s.ownedBy !== null) parts.push(`OWNED BY ${s.ownedBy}`);
  return parts.join(' ');
}

function entries(s: SchemaSnapshot): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const add = (e: Entry) => out.set(`${e.kind} ${e.name}`, e);
  for (const name of s.schemas) add({ kind: 'schema', name, description: '' });
  for (const [name, x] of Object.entries(s.extensions)) add({ kind: 'extension', name, description: `${x.version} in schema ${x.schema}` });
  for (const [name, labels] of Object.entries(s.enums)) add({ kind: 'enum', name, description: `(${labels.map(quoteLiteral).join(', ')})` });
  for (const [name, seq] of Object.entries(s.sequences)) add({ kind: 'sequence', name, description: describeSequence(seq) });
  for (const [name, t] of Object.entries(s.tables)) {
    const cols = Object.entries(t.columns).map(([col, c]) => `${col} ${describeColumn(c)}`);
    add({ kind: 'table', name, description: describeTable(t), whole: `${describeTable(t)} (${cols.join(', ')})` });
    for (const [col, c] of Object.entries(t.columns)) add({ kind: 'column', name: `${name}.${col}`, description: describeColumn(c), table: name });
  }
  for (const [name, c] of Object.entries(s.constraints)) add({ kind: 'constraint', name, description: c.definition });
  for (const [name, i] of Object.entries(s.indexes)) add({ kind: 'index', name, description: i.valid ? i.definition : `${i.definition} INVALID` });
  for (const [name, v] of Object.entries(s.views)) add({ kind: v.materialized ? 'materialized view' : 'view', name, description: v.definition });
  for (const [name, f] of Object.entries(s.functions)) {
    const returns = f.returns === null ? '' : `RETURNS ${f.returns} `;
    add({ kind: f.kind, name, description: `${returns}LANGUAGE ${f.language} md5 ${f.md5}` });
  }
  for (const [name, t] of Object.entries(s.triggers)) {
    add({ kind: 'trigger', name, description: t.enabled === 'origin' ? t.definition : `${t.definition} (${t.enabled.toUpperCase()})` });
  }
  return out;
}

function order(a: Entry, b: Entry): number {
  return KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || byCodeUnit(a.name, b.name);
}

/**
 * Every difference between two snapshots, ordered by object kind then name;
 * an empty array means the schemas are identical. Columns of a table that is
 * itself added or removed are folded into that table's change.
 */
export function diffSchemas(before: SchemaSnapshot, after: SchemaSnapshot): SchemaChange[] {
  const was = entries(before);
  const now = entries(after);
  const tableCameOrWent = (table: string) => was.has(`table ${table}`) !== now.has(`table ${table}`);
  const changes: [Entry, SchemaChange][] = [];
  for (const [key, e] of was) {
    const n = now.get(key);
    if (n === undefined) {
      if (e.table === undefined || !tableCameOrWent(e.table)) {
        changes.push([e, { kind: 'removed', object: key, before: e.whole ?? e.description }]);
      }
    } else if (n.description !== e.description) {
      changes.push([e, { kind: 'changed', object: key, before: e.description, after: n.description }]);
    }
  }
  for (const [key, e] of now) {
    if (was.has(key)) continue;
    if (e.table === undefined || !tableCameOrWent(e.table)) {
      changes.push([e, { kind: 'added', object: key, after: e.whole ?? e.description }]);
    }
  }
  return changes.sort(([a], [b]) => order(a, b)).map(([, c]) => c);
}

/** Collapse the newlines and indentation of view and trigger definitions so a change fits on one line. */
function oneLine(s: string | undefined): string {
  return (s ?? '').replace(/\s+/g, ' ').trim();
}

/**
 * One human line for a change: `+ column public.users.first_name text NULL`,
 * `- index public.users_prefs_gin`, `~ column public.users.email: character varying(100) NOT NULL → text NOT NULL`.
 */
export function describeChange(c: SchemaChange): string {
  switch (c.kind) {
    case 'added': {
      const after = oneLine(c.after);
      return after === '' ? `+ ${c.object}` : `+ ${c.object} ${after}`;
    }
    case 'removed':
      return `- ${c.object}`;
    case 'changed':
      return `~ ${c.object}: ${oneLine(c.before)} → ${oneLine(c.after)}`;
  }
}

/** Code-unit order, independent of locale and collation. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
