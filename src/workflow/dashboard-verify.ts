import type { Queryable } from '../db/database.js';
import type { Migration } from '../migration/loader.js';
import { countDataErrors, type DataErrorCount } from '../verify/data-errors.js';
import { declarationHash } from '../verify/declared.js';
import type { CheckMode, RowDifference } from '../verify/result.js';
import { latestResults } from './check-store.js';

// The verify section of a migration's page: the latest result of each declared check, with the rows
// that differ shown key by key with both sides' values (ferry.verify_results.differences).

/** A declared check and its latest result. */
export interface CheckEntry {
  check: string;
  kind: string;
  /** Whether it ever ran (any declaration). */
  ran: boolean;
  /** Whether its latest result is for the check as declared now (an edited check must run again). */
  current: boolean;
  /** Null when it never ran. */
  ok: boolean | null;
  mode: CheckMode | null;
  /** Row counts, chunks, queries … as the kind reports them. */
  figures: Record<string, unknown>;
  /** Differing rows (or failed assertions) it found. */
  dataErrors: number;
  /** Why it could not run (such a check fails). */
  error: string | null;
  /** The differing rows it kept, by key, with both sides' values (diff and checksum checks). */
  rows: RowDifference[];
  /** Its other differences as stored: failed schema assertions, count differences. */
  other: unknown[];
  startedAt: string | null;
  finishedAt: string | null;
  by: string | null;
}

/** What {@link verifyResults} returns. */
export interface VerifyResults {
  migrationId: string;
  checks: CheckEntry[];
  /** Declared checks without a result for their current declaration (`ferry verify <id> --full`). */
  pending: string[];
  /** Data errors counted once per row, as the health matrix judges them. */
  dataErrors: DataErrorCount;
}

const ROW_KINDS = new Set(['missing', 'extra', 'changed']);

/** Whether a stored difference is a differing row (a key and both sides' values) rather than an assertion. */
function isRowDifference(d: unknown): d is RowDifference {
  if (d === null || typeof d !== 'object') return false;
  const r = d as Record<string, unknown>;
  return typeof r.kind === 'string' && ROW_KINDS.has(r.kind) && r.key !== null && typeof r.key === 'object' && 'source' in r && 'target' in r;
}

/**
 * The latest result of each check the manifest of `m` declares: ok, figures, data errors, and the
 * differing keys with both values. A check edited since it last ran shows that result as not current.
 * Reads only.
 */
export async function verifyResults(db: Queryable, m: Migration): Promise<VerifyResults> {
  const latest = (await latestResults(db, { migrationId: m.id })).get(m.id) ?? [];
  const pending: string[] = [];
  const checks = m.manifest.checks.map((c): CheckEntry => {
    const r = latest.find((x) => x.check === c.name);
    const current = r !== undefined && r.declaration === declarationHash(c);
    if (!current) pending.push(c.name);
    return {
      check: c.name,
      kind: c.kind,
      ran: r !== undefined,
      current,
      ok: r?.ok ?? null,
      mode: r?.mode ?? null,
      figures: r?.figures ?? {},
      dataErrors: r?.dataErrors ?? 0,
      error: r?.error ?? null,
      rows: (r?.differences ?? []).filter(isRowDifference),
      other: (r?.differences ?? []).filter((d) => !isRowDifference(d)),
      startedAt: r?.startedAt ?? null,
      finishedAt: r?.finishedAt ?? null,
      by: r?.by ?? null,
    };
  });
  const counted = latest.filter((r) => checks.some((c) => c.check === r.check && c.current));
  return { migrationId: m.id, checks, pending, dataErrors: countDataErrors(counted) };
}
