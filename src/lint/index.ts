import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parserReady, splitStatements } from '../db/sql-script.js';
import type { Migration } from '../migration/loader.js';
import type { Manifest } from '../migration/manifest.js';
import { cachedReport } from './cache.js';
import type { LintCatalog } from './catalog.js';
import { classify, type StepFacts } from './classify.js';
import { ScriptState } from './context.js';
import { lintStatements, TYPE_MISMATCH } from './engine.js';
import type { Finding, LintReport, StatementReport } from './types.js';

export { SqlSyntaxError } from '../db/sql-script.js';
export { type CatalogColumn, type CatalogIndex, type CatalogTable, describeSize, type LintCatalog, readLintCatalog } from './catalog.js';
export { RULES, ruleInfo, TYPE_MISMATCH } from './engine.js';
export { analyseStatement } from './locks.js';
export type * from './types.js';

/** Options of {@link lintSql}. */
export interface LintSqlOptions {
  /** The file name shown in findings. */
  file?: string;
  /** Lint as a ferry migration step (ferry sets lock_timeout itself); default false: a standalone script. */
  ferryManaged?: boolean;
  /** Whether the whole script runs in one transaction (a transactional ferry step); default false. */
  transaction?: boolean;
  /** Rules switched off for the whole script. */
  disable?: string[];
  /** The live catalog to judge the statements against ({@link readLintCatalog}); without it the linter assumes every table it did not see created is large. */
  catalog?: LintCatalog;
}

/** Options of {@link lintMigration}. */
export interface LintMigrationOptions {
  /** The live catalog to judge the steps against ({@link readLintCatalog}). */
  catalog?: LintCatalog;
}

/** How much of a catalog the report was judged against. */
function catalogSummary(catalog: LintCatalog | undefined): Pick<LintReport, 'catalog'> {
  return catalog ? { catalog: { searchPath: catalog.searchPath, tables: catalog.tables.length, indexes: catalog.indexes.length } } : {};
}

function counts(findings: Finding[]): LintReport['counts'] {
  const live = findings.filter((f) => f.status === 'active' || f.status === 'acknowledged');
  return {
    error: live.filter((f) => f.severity === 'error').length,
    warning: live.filter((f) => f.severity === 'warning').length,
    info: findings.filter((f) => f.severity === 'info').length,
    disabled: findings.filter((f) => f.status === 'disabled').length,
  };
}

/** Lint one SQL script (a file) with PostgreSQL's own parser; throws `SqlSyntaxError` when it does not parse. */
export async function lintSql(sql: string, opts: LintSqlOptions = {}): Promise<LintReport> {
  await parserReady();
  const statements = splitStatements(sql);
  const state = new ScriptState({
    ferryManaged: Boolean(opts.ferryManaged),
    transaction: Boolean(opts.transaction),
    ...(opts.catalog ? { catalog: opts.catalog } : {}),
  });
  const disabled = new Map((opts.disable ?? []).map((r): [string, string] => [r, 'disabled by option']));
  const reports = lintStatements({ statements, disabled, ...(opts.file !== undefined ? { file: opts.file } : {}) }, state);
  const findings = reports.flatMap((r) => r.findings);
  const classification = classify([{ kind: 'sql', changes: reports.flatMap((r) => (r.change ? [r.change] : [])) }], findings, undefined);
  return { target: opts.file ?? '(sql)', statements: reports, findings, classification, counts: counts(findings), ...catalogSummary(opts.catalog) };
}

/** Whether the manifest acknowledges this finding (`rule` or `step:rule` in `lint.acknowledge`). */
export function isAcknowledged(f: Finding, manifest: Pick<Manifest, 'lint'> | undefined): boolean {
  const ack = manifest?.lint.acknowledge ?? [];
  return ack.includes(f.rule) || (f.stepId !== undefined && ack.includes(`${f.stepId}:${f.rule}`));
}

/** Rules the manifest disables for a step, with the note shown on disabled findings. */
function manifestDisabled(manifest: Manifest, stepId: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of manifest.lint.disable) {
    const cut = entry.indexOf(':');
    if (cut === -1) out.set(entry, 'disabled in the manifest (lint.disable)');
    else if (entry.slice(0, cut) === stepId) out.set(entry.slice(cut + 1), 'disabled in the manifest (lint.disable)');
  }
  return out;
}

function manifestFile(m: Migration): string {
  return ['migration.json', 'migration.ts', 'migration.js'].map((f) => join(m.dir, f)).find((f) => existsSync(f)) ?? m.dir;
}

/**
 * Lint a loaded migration: the forward SQL of every step in order (tables
 * created by earlier steps are new for later ones), each step in its own
 * transaction as ferry runs it; then infer its type and risk and compare with
 * the manifest. Error findings the manifest acknowledges are marked
 * `acknowledged`. With a catalog, tables and indexes are judged as they exist.
 * A migration loaded with a cache reuses its report while nothing it depends on changed.
 */
export function lintMigration(m: Migration, opts: LintMigrationOptions = {}): LintReport {
  return cachedReport(m, opts.catalog, () => lintAfresh(m, opts));
}

function lintAfresh(m: Migration, opts: LintMigrationOptions): LintReport {
  const state = new ScriptState({ ferryManaged: true, transaction: true, ...(opts.catalog ? { catalog: opts.catalog } : {}) });
  const statements: StatementReport[] = [];
  const facts: StepFacts[] = [];
  for (const step of m.steps) {
    const fact: StepFacts = { id: step.id, kind: step.kind, changes: [] };
    if (step.phase) fact.phase = step.phase;
    if (step.operation) fact.op = step.operation.op;
    if (step.kind === 'sql' && step.forward) {
      state.startStep(step.transaction, step.phase === 'contract' ? 'contract' : 'expand');
      const reports = lintStatements(
        {
          statements: step.forward.statements,
          file: step.forward.file,
          migrationId: m.id,
          stepId: step.id,
          disabled: manifestDisabled(m.manifest, step.id),
          ...(step.operation ? { handledBy: { op: step.operation.op, rules: step.operation.handles } } : {}),
        },
        state,
      );
      statements.push(...reports);
      fact.changes = reports.flatMap((r) => (r.change ? [r.change] : []));
    }
    facts.push(fact);
  }
  const findings = statements
    .flatMap((r) => r.findings)
    .map((f) =>
      f.status === 'active' && f.severity === 'error' && isAcknowledged(f, m.manifest)
        ? Object.assign(f, { status: 'acknowledged' as const, note: 'acknowledged in the manifest (lint.acknowledge)' })
        : f,
    );
  const classification = classify(facts, findings, m.manifest.type);
  if (classification.matchesDeclared === false) {
    const disabled = m.manifest.lint.disable.includes(TYPE_MISMATCH.id);
    findings.push({
      rule: TYPE_MISMATCH.id,
      severity: TYPE_MISMATCH.severity,
      message: `declared "${m.manifest.type}" but the statements make it "${classification.inferred}": ${classification.reasons.filter((r) => !r.startsWith('risk ')).join('; ')}`,
      why: TYPE_MISMATCH.why,
      fix: TYPE_MISMATCH.fix,
      file: manifestFile(m),
      line: 1,
      migrationId: m.id,
      status: disabled ? 'disabled' : 'active',
      ...(disabled ? { note: 'disabled in the manifest (lint.disable)' } : {}),
    });
  }
  return { target: m.id, statements, findings, classification, counts: counts(findings), ...catalogSummary(opts.catalog) };
}

/** The error-level findings that stop `ferry up`: neither disabled, handled nor acknowledged in `manifest`. */
export function refusedFindings(report: LintReport, manifest?: Pick<Manifest, 'lint'>): Finding[] {
  return report.findings.filter((f) => f.severity === 'error' && f.status === 'active' && !isAcknowledged(f, manifest));
}
