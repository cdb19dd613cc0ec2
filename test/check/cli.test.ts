import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { emptyServerTarget } from '../helpers/databases.js';
import { runFerry, runFerryJson } from '../helpers/project.js';
import { repoProject, SAFE_TABLE, UNSAFE_INDEX, validSarif } from './fixture.js';

// `ferry check` as CI runs it: a real child process in a real git repository.

/** The environment of a run outside GitHub Actions (whatever the test runner's own CI says). */
const PLAIN = { GITHUB_ACTIONS: '', GITHUB_STEP_SUMMARY: '', GITHUB_BASE_REF: '' };

const IDX = '20260102000000_users_email_idx';
const FIX = 'use the add-index operation, or CREATE INDEX CONCURRENTLY in its own step with "transaction": false';

describe('ferry check', () => {
  it('with GITHUB_ACTIONS=true: one annotation per finding, and the summary appended to $GITHUB_STEP_SUMMARY; exit 15', async () => {
    const p = repoProject();
    p.migration(IDX, [UNSAFE_INDEX]);
    p.commit('index');
    const summary = join(p.root, 'step-summary.md');
    writeFileSync(summary, 'an earlier step wrote this\n');
    const r = await runFerry(p.root, ['check'], { ...PLAIN, GITHUB_ACTIONS: 'true', GITHUB_STEP_SUMMARY: summary });
    expect(r.code, r.stderr).toBe(15);
    expect(r.stdout.split('\n').filter((l) => l.startsWith('::'))).toEqual([
      `::error file=migrations/${IDX}/add-index.up.sql,line=2,title=ferry index-not-concurrent::CREATE INDEX users_email_idx on users without CONCURRENTLY%0Afix: ${FIX}`,
    ]);
    expect(readFileSync(summary, 'utf8')).toBe(
      [
        'an earlier step wrote this',
        '## ferry check',
        '',
        '❌ ferry check failed: 1 error finding not acknowledged; 1 migration new or changed against main, linted without a database.',
        '',
        `### \`${IDX}\``,
        '',
        '| level | rule | where | finding |',
        '|---|---|---|---|',
        `| **error** | \`index-not-concurrent\` | \`migrations/${IDX}/add-index.up.sql:2\` | CREATE INDEX users_email_idx on users without CONCURRENTLY<br>fix: ${FIX} |`,
        '',
      ].join('\n'),
    );
    expect(r.stderr).toContain('[E_LINT]');
  });

  it('outside GitHub Actions: text only, no annotation; a safe branch exits 0', async () => {
    const p = repoProject();
    const id = p.migration('20260102000000_orders', [SAFE_TABLE]);
    const r = await runFerry(p.root, ['check'], PLAIN);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).not.toMatch(/^::/m);
    expect(r.stdout).toContain(`changed: ${id}`);
    expect(r.stdout).toContain('✅ ferry check passed: 1 migration new or changed against main, linted without a database; no error findings.');
  });

  it('--format sarif prints a SARIF 2.1.0 log that validates, or writes it to --output while the text still prints', async () => {
    const p = repoProject();
    p.migration(IDX, [UNSAFE_INDEX]);
    const printed = await runFerry(p.root, ['check', '--format', 'sarif'], { ...PLAIN, GITHUB_ACTIONS: 'true' });
    expect(printed.code).toBe(15);
    const log = JSON.parse(printed.stdout) as { runs: { tool: { driver: { name: string } }; results: { ruleId: string }[] }[] };
    expect(validSarif(log), JSON.stringify(validSarif.errors)).toBe(true);
    expect(log.runs[0]?.tool.driver.name).toBe('ferry');
    expect(log.runs[0]?.results.map((x) => x.ruleId)).toEqual(['index-not-concurrent']);
    // The annotations go to stderr when stdout carries the log.
    expect(printed.stderr).toMatch(/^::error file=/m);

    const written = await runFerry(p.root, ['check', '--format', 'sarif', '--output', 'results.sarif'], PLAIN);
    expect(written.code).toBe(15);
    expect(written.stdout).toContain('ferry check failed');
    expect(validSarif(JSON.parse(readFileSync(join(p.root, 'results.sarif'), 'utf8')))).toBe(true);
  });

  it('--json prints the report', async () => {
    const p = repoProject();
    p.migration(IDX, [UNSAFE_INDEX]);
    const r = await runFerryJson<{ base: string; changed: string[]; ok: boolean; findings: { file: string; line: number; rule: string }[] }>(
      p.root,
      ['check'],
      PLAIN,
    );
    expect(r.code).toBe(15);
    expect(r.json).toMatchObject({ base: 'main', changed: [IDX], ok: false });
    expect(r.json.findings).toContainEqual(expect.objectContaining({ file: `migrations/${IDX}/add-index.up.sql`, line: 2, rule: 'index-not-concurrent' }));
  });

  it('an invalid manifest exits 4, naming its file', async () => {
    const p = repoProject();
    const id = p.migration('20260102000000_broken', [SAFE_TABLE], { type: 'no-such-type' });
    const r = await runFerry(p.root, ['check'], PLAIN);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain(`manifest migrations/${id}/migration.json:1`);
  });

  it('options are checked first: a bad --format, --output without sarif and an unknown base are usage errors (exit 2)', async () => {
    const p = repoProject();
    const format = await runFerryJson<{ error: { code: string; message: string } }>(p.root, ['check', '--format', 'xml'], PLAIN);
    expect(format.code).toBe(2);
    expect(format.json.error).toMatchObject({ code: 'E_USAGE', message: '--format "xml" is not a format of ferry check' });
    const output = await runFerry(p.root, ['check', '--output', 'x.sarif'], PLAIN);
    expect(output.code).toBe(2);
    expect(existsSync(join(p.root, 'x.sarif'))).toBe(false);
    const base = await runFerry(p.root, ['check', '--base', 'origin/nope'], PLAIN);
    expect(base.code).toBe(2);
    expect(base.stderr).toContain('"origin/nope"');
    expect(base.stderr).toContain('--base <ref>');
  });

  it('--help shows the options, the exit codes and examples', async () => {
    const r = await runFerry(process.cwd(), ['check', '--help'], PLAIN);
    expect(r.code).toBe(0);
    for (const text of ['--base <ref>', '--format <format>', '--output <file>', 'Exit codes:', 'ferry check --env ci --format sarif --output results.sarif'])
      expect(r.stdout).toContain(text);
  });

  it('with --env: a migration that fails on the scratch database exits 13 [server]', async () => {
    const target = await emptyServerTarget();
    if (!target) return console.warn('[ferry tests] skipped: no PostgreSQL server (outside CI only)');
    const p = repoProject(target);
    p.migration('20260102000000_account_note', [{ id: 'add-note', up: 'ALTER TABLE accounts ADD COLUMN note text;\n', down: 'SELECT 1;\n' }]);
    const r = await runFerry(p.root, ['check', '--env', p.env], PLAIN);
    expect(r.code, r.stderr).toBe(13);
    expect(r.stdout).toContain('relation "accounts" does not exist');
    expect(r.stderr).toContain('[E_REHEARSE]');
  });
});
