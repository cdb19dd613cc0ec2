import type { LockMode } from '../db/catalog-locks.js';
import type { MigrationType } from '../migration/manifest.js';

/** How bad a finding is: `error` findings stop `ferry up` unless acknowledged. */
export type Severity = 'error' | 'warning' | 'info';

export { LOCK_MODES, type LockMode } from '../db/catalog-locks.js';

/** A lock a statement takes on one relation, and what it blocks meanwhile. */
export interface LockTaken {
  /** The relation as the statement names it (`users`, `app.users`). */
  relation: string;
  mode: LockMode;
  /** What other sessions cannot do while it is held. */
  blocks: string;
  /** Which part of the statement takes it. */
  why: string;
}

/** A statement that rewrites (copies) a whole table while holding its lock. */
export interface Rewrite {
  relation: string;
  /** What causes it; `column-type` and `volatile-default` have their own rules, the others fall under `table-rewrite`. */
  cause: 'column-type' | 'volatile-default' | 'generated-column' | 'persistence' | 'tablespace' | 'access-method' | 'vacuum-full' | 'cluster';
  reason: string;
}

/** Whether a finding counts: `disabled` by a comment or the manifest, `handled` by a ferry operation, `acknowledged` in the manifest. */
export type FindingStatus = 'active' | 'disabled' | 'handled' | 'acknowledged';

/** What the live catalog told about the table a finding is on (only when the linter was given an environment). */
export interface CatalogFact {
  /** The table as the catalog names it (`public.users`), or as the statement does when the catalog does not have it. */
  table: string;
  found: boolean;
  /** The planner's row estimate; null when the table was never analysed. */
  rows?: number | null;
  /** Table, indexes and TOAST, in bytes. */
  bytes?: number;
  /** The column's type in the catalog, for a finding about one column. */
  column?: { name: string; type: string };
}

/** One thing the linter found, where, why it matters and what to do instead. */
export interface Finding {
  rule: string;
  severity: Severity;
  /** What this statement does, specifically. */
  message: string;
  /** Why it is dangerous on a live database. */
  why: string;
  /** The safe alternative. */
  fix: string;
  file?: string;
  line: number;
  migrationId?: string;
  stepId?: string;
  status: FindingStatus;
  /** Why it is disabled, handled or acknowledged. */
  note?: string;
  /** What the live catalog told about the table, when the linter read one and the finding uses it. */
  catalog?: CatalogFact;
}

/** The analysis of one statement: its locks, rewrites and findings. */
export interface StatementReport {
  file?: string;
  line: number;
  stepId?: string;
  text: string;
  /** The parse tree node type (`AlterTableStmt`, `IndexStmt` …). */
  node: string;
  locks: LockTaken[];
  rewrites: Rewrite[];
  findings: Finding[];
  /** The kind of change the statement makes, if any. */
  change?: { type: MigrationType; what: string };
}

/** Migration risk, from the kind of change and what the statements do. */
export type Risk = 'low' | 'medium' | 'high' | 'critical';

/** The migration type the statements show, compared with the declared one. */
export interface Classification {
  declared?: MigrationType;
  inferred: MigrationType;
  risk: Risk;
  /** One line per fact that led to the type and the risk. */
  reasons: string[];
  /** Whether the declared type agrees with what the statements show (absent when nothing is declared). */
  matchesDeclared?: boolean;
}

/** Everything the linter says about one SQL file or one migration. */
export interface LintReport {
  /** The file or the migration id. */
  target: string;
  statements: StatementReport[];
  /** Every finding, statement-level and migration-level, including disabled ones. */
  findings: Finding[];
  classification: Classification;
  /** Findings that count (active or acknowledged), by severity. */
  counts: { error: number; warning: number; info: number; disabled: number };
  /** Present when the statements were judged against a live catalog: how much of it there was. */
  catalog?: { searchPath: string[]; tables: number; indexes: number };
}

/** A rule's identity and advice, the same for every finding of the rule. */
export interface RuleInfo {
  id: string;
  severity: Severity;
  /** Why the pattern is dangerous. */
  why: string;
  /** What to do instead; names the ferry operation where there is one. */
  fix: string;
}
