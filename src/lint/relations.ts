import type { CatalogColumn, CatalogIndex, CatalogTable, LintCatalog } from './catalog.js';
import type { RangeVar } from './tree.js';

/** Where a table or index the linter tracks comes from: the live catalog, or a statement earlier in the script. */
export type Origin = 'catalog' | 'script';

/** A table as it stands at one point of the script. */
interface TableEntry {
  /** Undefined when the script names it unqualified and no catalog tells the search path. */
  schema: string | undefined;
  name: string;
  origin: Origin;
  catalog?: CatalogTable;
  /** Columns the script added, dropped, renamed or retyped: the catalog's type no longer holds for them. */
  changed: Set<string>;
}

/** An index as it stands at one point of the script. */
interface IndexEntry {
  schema: string | undefined;
  name: string;
  table: TableEntry | undefined;
  origin: Origin;
  catalog?: CatalogIndex;
}

/**
 * The tables and indexes that exist at one point of a script: those of the
 * live catalog (when given) changed by what the script created, dropped and
 * renamed so far. Unqualified names resolve through the catalog's search path;
 * without a catalog they match any schema.
 */
export class KnownRelations {
  readonly catalog: LintCatalog | undefined;
  /** The search path, while it is known (a `SET search_path` in the script makes it unknown). */
  private searchPath: string[] | undefined;
  private tables: TableEntry[] = [];
  private indexes: IndexEntry[] = [];

  constructor(catalog?: LintCatalog) {
    this.catalog = catalog;
    this.searchPath = catalog?.searchPath;
    for (const t of catalog?.tables ?? []) this.tables.push({ schema: t.schema, name: t.name, origin: 'catalog', catalog: t, changed: new Set() });
    for (const i of catalog?.indexes ?? []) {
      const table = this.tables.find((t) => t.schema === i.schema && t.name === i.table);
      this.indexes.push({ schema: i.schema, name: i.name, table, origin: 'catalog', catalog: i });
    }
  }

  /** The script changed the search path: unqualified names can no longer be resolved exactly. */
  forgetSearchPath(): void {
    this.searchPath = undefined;
  }

  /** The entry `rv` names now: schema-qualified exactly, unqualified through the search path; the latest wins. */
  private resolve<E extends { schema: string | undefined; name: string }>(entries: E[], rv: RangeVar): E | undefined {
    const named = entries.filter((e) => e.name === rv.relname).reverse();
    if (rv.schemaname !== undefined) return named.find((e) => e.schema === rv.schemaname || e.schema === undefined);
    if (this.searchPath === undefined) return named[0];
    for (const s of this.searchPath) {
      const hit = named.find((e) => e.schema === s);
      if (hit) return hit;
    }
    return named.find((e) => e.schema === undefined);
  }

  /** The schema a new object named `rv` goes into: its own, or the first of the search path. */
  private schemaForNew(rv: RangeVar): string | undefined {
    return rv.schemaname ?? this.searchPath?.[0];
  }

  /** Where the table `rv` comes from now, or undefined when it is unknown (absent from the catalog, or no catalog). */
  tableOrigin(rv: RangeVar): Origin | undefined {
    return this.resolve(this.tables, rv)?.origin;
  }

  /** Where the index `rv` comes from now, or undefined when it is unknown. */
  indexOrigin(rv: RangeVar): Origin | undefined {
    return this.resolve(this.indexes, rv)?.origin;
  }

  /** The catalog's record of the table `rv` names, while it is still that table. */
  catalogTable(rv: RangeVar): CatalogTable | undefined {
    const t = this.resolve(this.tables, rv);
    return t?.origin === 'catalog' ? t.catalog : undefined;
  }

  /** The catalog's record of the index `rv` names, while it is still that index. */
  catalogIndex(rv: RangeVar): CatalogIndex | undefined {
    const i = this.resolve(this.indexes, rv);
    return i?.origin === 'catalog' ? i.catalog : undefined;
  }

  /** The catalog's type of a column, unless the script changed the column before. */
  catalogColumn(rv: RangeVar, column: string): CatalogColumn | undefined {
    const t = this.resolve(this.tables, rv);
    return t?.origin === 'catalog' && !t.changed.has(column) ? t.catalog?.columns[column] : undefined;
  }

  /** CREATE TABLE [IF NOT EXISTS]: a new, empty table, unless IF NOT EXISTS meets one that exists. */
  createTable(rv: RangeVar, ifNotExists: boolean): void {
    if (ifNotExists && this.resolve(this.tables, rv)) return;
    this.tables.push({ schema: this.schemaForNew(rv), name: rv.relname, origin: 'script', changed: new Set() });
  }

  /** DROP TABLE: the table and its indexes are gone. */
  dropTable(rv: RangeVar): void {
    const t = this.resolve(this.tables, rv);
    if (!t) return;
    this.tables = this.tables.filter((x) => x !== t);
    this.indexes = this.indexes.filter((i) => i.table !== t);
  }

  /** ALTER TABLE … RENAME TO: the same table (same origin, same rows) under a new name; an unknown one stays unknown. */
  renameTable(rv: RangeVar, to: string): void {
    const t = this.resolve(this.tables, rv);
    if (t) t.name = to;
  }

  /** The script changed a column (added, dropped, renamed, retyped): its catalog type no longer holds. */
  changeColumn(rv: RangeVar, column: string): void {
    this.resolve(this.tables, rv)?.changed.add(column);
  }

  /** CREATE INDEX [IF NOT EXISTS] name ON table: the index goes into its table's schema. */
  createIndex(name: string, tableRv: RangeVar, ifNotExists: boolean): void {
    const table = this.resolve(this.tables, tableRv);
    const schema = table?.schema ?? this.schemaForNew(tableRv);
    const rv = schema === undefined ? { relname: name } : { schemaname: schema, relname: name };
    if (ifNotExists && this.resolve(this.indexes, rv)) return;
    this.indexes.push({ schema, name, table, origin: 'script' });
  }

  /** Whether an index named `name` already exists in the schema of `tableRv` (so CREATE INDEX IF NOT EXISTS builds nothing). */
  indexExistsFor(name: string, tableRv: RangeVar): boolean {
    const schema = this.resolve(this.tables, tableRv)?.schema ?? this.schemaForNew(tableRv);
    return this.resolve(this.indexes, schema === undefined ? { relname: name } : { schemaname: schema, relname: name }) !== undefined;
  }

  /** DROP INDEX. */
  dropIndex(rv: RangeVar): void {
    const i = this.resolve(this.indexes, rv);
    if (i) this.indexes = this.indexes.filter((x) => x !== i);
  }

  /** ALTER INDEX … RENAME TO. */
  renameIndex(rv: RangeVar, to: string): void {
    const i = this.resolve(this.indexes, rv);
    if (i) i.name = to;
  }
}
