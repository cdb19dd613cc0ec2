import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync, unlinkSync, utimesSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARSER_VERSION, writeEntry } from '../migration/parse-cache.js';
import { canonicalJson } from '../verify/declared.js';
import type { LintCatalog } from './catalog.js';
import type { LintReport } from './types.js';

/** Bump when what an entry holds changes shape. */
const LINT_CACHE_FORMAT = 1;

/** Entries not read for this long are removed; a migration being worked on is linted far more often. */
const UNUSED_MS = 7 * 24 * 3600 * 1000;

let codeVersion: string | undefined;

/** A hash of the linter's own code (every file of this folder): a changed rule never reads a report its old self wrote. */
function linterVersion(): string {
  if (codeVersion) return codeVersion;
  const h = createHash('sha256').update(PARSER_VERSION);
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (/\.(js|ts)$/.test(name)) h.update(name).update(readFileSync(path));
    }
  };
  walk(dirname(fileURLToPath(import.meta.url)));
  codeVersion = h.digest('hex');
  return codeVersion;
}

/** What a migration's lint report depends on: the migration's whole definition, where it lives, the catalog, and the linter itself. */
function keyOf(m: { checksum: string; dir: string }, catalog: LintCatalog | undefined): string {
  return createHash('sha256')
    .update(`ferry-lint-cache\0${LINT_CACHE_FORMAT}\0${linterVersion()}\0${m.checksum}\0${m.dir}\0`)
    .update(catalog ? canonicalJson(catalog) : 'no catalog')
    .digest('hex');
}

function digestOf(key: string, body: string): string {
  return createHash('sha256').update(key).update('\0').update(body).digest('hex');
}

/**
 * A migration's lint report, reused while nothing it depends on changed (the
 * linter parses every statement into a tree, which is most of the cost of a
 * large script): read from `<cacheDir>/lint/`, or computed and stored there.
 * An entry that is damaged or does not match is computed afresh and replaced.
 */
export function cachedReport(m: { checksum: string; dir: string; cacheDir?: string }, catalog: LintCatalog | undefined, compute: () => LintReport): LintReport {
  if (!m.cacheDir) return compute();
  const dir = join(m.cacheDir, 'lint');
  const key = keyOf(m, catalog);
  const file = join(dir, `${key}.json`);
  try {
    const entry = JSON.parse(readFileSync(file, 'utf8')) as { key?: unknown; digest?: unknown; report?: unknown };
    const body = JSON.stringify(entry.report);
    if (entry.key === key && entry.digest === digestOf(key, body)) {
      const now = new Date();
      utimesSync(file, now, now);
      return entry.report as LintReport;
    }
  } catch {
    // Absent or unreadable: lint afresh.
  }
  const report = compute();
  const body = JSON.stringify(report);
  writeEntry(dir, key, `{"key":${JSON.stringify(key)},"digest":${JSON.stringify(digestOf(key, body))},"report":${body}}`);
  prune(dir);
  return report;
}

/** Remove entries unread for a week and temporary files of killed writers. */
function prune(dir: string): void {
  for (const name of readdirSync(dir)) {
    if (name === '.gitignore') continue;
    try {
      const path = join(dir, name);
      if (Date.now() - statSync(path).mtimeMs > (name.endsWith('.tmp') ? 600_000 : UNUSED_MS)) unlinkSync(path);
    } catch {
      // Removed by another process meanwhile.
    }
  }
}
