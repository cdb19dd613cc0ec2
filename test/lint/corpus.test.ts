import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lintSql } from '../../src/lint/index.js';

const CORPUS = join(import.meta.dirname, 'corpus.sql');

/** The rule ids a corpus statement is annotated with (`-- expect: a, b` or `-- expect: none`). */
function expected(text: string): string[] {
  const m = /^-- expect: (.*)$/m.exec(text);
  if (!m?.[1]) throw new Error(`statement without an expect annotation:\n${text}`);
  return m[1].trim() === 'none' ? [] : m[1].split(',').map((s) => s.trim());
}

describe('the lint corpus', async () => {
  const report = await lintSql(readFileSync(CORPUS, 'utf8'), { file: 'corpus.sql' });

  it('holds at least 40 statements, safe and unsafe', () => {
    expect(report.statements.length).toBeGreaterThanOrEqual(40);
    const safe = report.statements.filter((s) => expected(s.text).length === 0);
    expect(safe.length).toBeGreaterThanOrEqual(15);
    expect(report.statements.length - safe.length).toBeGreaterThanOrEqual(25);
  });

  it.each(report.statements.map((s) => [`line ${s.line}: ${s.text.split('\n').at(-1)}`, s] as const))('%s', (_name, s) => {
    expect(s.findings.map((f) => f.rule).sort()).toEqual(expected(s.text).sort());
  });

  it('every finding explains itself and names the safe alternative', () => {
    for (const f of report.findings) {
      expect(f.file).toBe('corpus.sql');
      expect(f.why.length).toBeGreaterThan(20);
      expect(f.fix.length).toBeGreaterThan(10);
      expect(f.status).toBe('active');
    }
  });
});
