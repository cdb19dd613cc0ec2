/**
 * What a stored check result tells about data errors: its own count, the keys
 * of the rows it reported and the table they belong to (`figures.table`, set by
 * diff and checksum checks; absent on count and schema checks and on results
 * stored before it was recorded).
 */
export interface DataErrorSource {
  check: string;
  kind: string;
  /** Differing rows (or failed assertions) this check found. */
  dataErrors: number;
  /** The first differing rows ({ key }) or failed assertions, as stored. */
  differences: readonly unknown[];
  figures: Record<string, unknown>;
}

/** The data errors found in one table (or by one check that reports no keys). */
export interface TableDataErrors {
  /** The compared table (`env:schema.table` as declared), or `check <name>` for a check without keys. */
  table: string;
  /** Distinct differing rows: the union of the checks' keys. */
  distinct: number;
  /** False when a check found more rows than it reported keys for: the unreported ones are counted once per check. */
  exact: boolean;
  /** Each check's own figure. */
  checks: { check: string; dataErrors: number }[];
}

/** Data errors counted once per row: the total the health matrix judges, and the figures per table. */
export interface DataErrorCount {
  /** Sum of the tables' distinct rows (plus one per failed assertion, plus count differences). */
  total: number;
  /** Sum of the checks' own figures (a row found by two checks counts twice here). */
  perCheckSum: number;
  tables: TableDataErrors[];
}

const keyOf = (d: unknown): string | undefined => {
  const key = d !== null && typeof d === 'object' ? (d as { key?: unknown }).key : undefined;
  if (key === null || typeof key !== 'object') return undefined;
  return JSON.stringify(Object.entries(key as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
};

/**
 * Count data errors by distinct row: checks that compare the same table (diff,
 * checksum, their samples) and report the same key count that row once. A check
 * without keys (count, schema assertions) counts its own errors. When a check
 * found more rows than it reported keys for, those beyond its keys cannot be
 * matched and are added as they are (the total never undercounts).
 */
export function countDataErrors(results: readonly DataErrorSource[]): DataErrorCount {
  const groups = new Map<string, DataErrorSource[]>();
  for (const r of results) {
    if (r.dataErrors <= 0) continue;
    const table = typeof r.figures.table === 'string' && (r.kind === 'diff' || r.kind === 'checksum') ? r.figures.table : `check ${r.check}`;
    groups.set(table, [...(groups.get(table) ?? []), r]);
  }
  const tables: TableDataErrors[] = [];
  for (const [table, rs] of groups) {
    const union = new Set<string>();
    let unmatched = 0;
    for (const r of rs) {
      const own = new Set(r.differences.map(keyOf).filter((k): k is string => k !== undefined));
      for (const k of own) union.add(k);
      unmatched += Math.max(0, r.dataErrors - own.size);
    }
    tables.push({
      table,
      distinct: union.size + unmatched,
      exact: rs.length === 1 || unmatched === 0,
      checks: rs.map((r) => ({ check: r.check, dataErrors: r.dataErrors })),
    });
  }
  tables.sort((a, b) => (a.table < b.table ? -1 : a.table > b.table ? 1 : 0));
  return {
    total: tables.reduce((n, t) => n + t.distinct, 0),
    perCheckSum: results.reduce((n, r) => n + Math.max(0, r.dataErrors), 0),
    tables,
  };
}
