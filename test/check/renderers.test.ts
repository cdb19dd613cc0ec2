import { describe, expect, it } from 'vitest';
import { annotationLine, escapeData, escapeProperty, renderAnnotations } from '../../src/check/annotations.js';
import type { PrCheckReport } from '../../src/check/report.js';
import { renderSarif } from '../../src/check/sarif.js';
import { checkVerdict, renderSummary } from '../../src/check/summary.js';
import { prCheck } from '../../src/workflow/pr-check.js';
import { repoProject, SAFE_TABLE, UNSAFE_INDEX, validSarif } from './fixture.js';

const ID = '20260102000000_users_email_idx';

/** A report as prCheck makes them: an error, an acknowledged error, a warning, a manifest problem, a rehearsal failure. */
const REPORT: PrCheckReport = {
  base: 'origin/main',
  mergeBase: 'a'.repeat(40),
  projectPath: 'db/',
  changed: [ID, '20260103000000_broken'],
  database: { env: 'ci', target: 'postgres://postgres@localhost:5432/ci' },
  rehearsals: [{ migrationId: '20260104000000_note', ok: false, summary: 'rehearsal failed at: up' }],
  notRehearsed: [{ migrationId: ID, reason: 'it has error lint findings not acknowledged, so `ferry up` refuses it' }],
  applied: [],
  findings: [
    {
      migrationId: ID,
      file: `migrations/${ID}/add-index.up.sql`,
      line: 2,
      level: 'error',
      rule: 'index-not-concurrent',
      message: 'CREATE INDEX users_email_idx on users without CONCURRENTLY',
      hint: 'use the add-index operation, or CREATE INDEX CONCURRENTLY in its own step with "transaction": false',
    },
    {
      migrationId: ID,
      file: `migrations/${ID}/add-index.up.sql`,
      line: 3,
      level: 'error',
      rule: 'index-not-concurrent',
      message: 'CREATE INDEX users_name_idx on users without CONCURRENTLY',
      acknowledged: true,
    },
    { migrationId: ID, file: `migrations/${ID}/migration.json`, line: 1, level: 'warning', rule: 'type-mismatch', message: 'declared "system" but …' },
    {
      migrationId: '20260103000000_broken',
      file: 'migrations/20260103000000_broken/migration.json',
      line: 1,
      level: 'error',
      rule: 'manifest',
      message: 'type: Invalid option: expected one of "schema-additive"|"system", 50% sure',
    },
    {
      migrationId: '20260104000000_note',
      file: 'migrations/20260104000000_note/add-note.up.sql',
      line: 2,
      level: 'error',
      rule: 'rehearsal',
      message: 'rehearsal failed at "up": relation "accounts" does not exist\r\nsecond line',
    },
  ],
  ok: false,
};

describe('GitHub annotations', () => {
  it('escape data (%, CR, LF) and properties (also : and ,) as GitHub documents', () => {
    expect(escapeData('50% a:b,c\r\nnext')).toBe('50%25 a:b,c%0D%0Anext');
    expect(escapeProperty('50% a:b,c\r\nnext')).toBe('50%25 a%3Ab%2Cc%0D%0Anext');
  });

  it('one line per finding, with the file from the repository root, the line, a title and the fix', () => {
    expect(renderAnnotations(REPORT)).toEqual([
      `::error file=db/migrations/${ID}/add-index.up.sql,line=2,title=ferry index-not-concurrent::CREATE INDEX users_email_idx on users without CONCURRENTLY%0Afix: use the add-index operation, or CREATE INDEX CONCURRENTLY in its own step with "transaction": false`,
      `::warning file=db/migrations/${ID}/add-index.up.sql,line=3,title=ferry index-not-concurrent (acknowledged)::CREATE INDEX users_name_idx on users without CONCURRENTLY`,
      `::warning file=db/migrations/${ID}/migration.json,line=1,title=ferry type-mismatch::declared "system" but …`,
      '::error file=db/migrations/20260103000000_broken/migration.json,line=1,title=ferry manifest::type: Invalid option: expected one of "schema-additive"|"system", 50%25 sure',
      '::error file=db/migrations/20260104000000_note/add-note.up.sql,line=2,title=ferry rehearsal::rehearsal failed at "up": relation "accounts" does not exist%0D%0Asecond line',
    ]);
  });

  it('a file name with a comma or colon cannot end the property early', () => {
    const line = annotationLine({ projectPath: '' }, { file: 'migrations/a,b:c/x.sql', line: 1, level: 'error', rule: 'manifest', message: 'm' });
    expect(line).toBe('::error file=migrations/a%2Cb%3Ac/x.sql,line=1,title=ferry manifest::m');
  });
});

describe('the step summary', () => {
  it('a verdict line, then per migration its rehearsal and a table of findings', () => {
    expect(renderSummary(REPORT)).toBe(
      [
        '## ferry check',
        '',
        '❌ ferry check failed: 3 error findings not acknowledged; 2 migrations new or changed against origin/main, linted against ci, 1 rehearsal run there.',
        '',
        `### \`${ID}\``,
        '',
        'Not rehearsed: it has error lint findings not acknowledged, so `ferry up` refuses it',
        '',
        '| level | rule | where | finding |',
        '|---|---|---|---|',
        `| **error** | \`index-not-concurrent\` | \`migrations/${ID}/add-index.up.sql:2\` | CREATE INDEX users_email_idx on users without CONCURRENTLY<br>fix: use the add-index operation, or CREATE INDEX CONCURRENTLY in its own step with "transaction": false |`,
        `| error (acknowledged) | \`index-not-concurrent\` | \`migrations/${ID}/add-index.up.sql:3\` | CREATE INDEX users_name_idx on users without CONCURRENTLY |`,
        `| warning | \`type-mismatch\` | \`migrations/${ID}/migration.json:1\` | declared "system" but … |`,
        '',
        '### `20260103000000_broken`',
        '',
        '| level | rule | where | finding |',
        '|---|---|---|---|',
        '| **error** | `manifest` | `migrations/20260103000000_broken/migration.json:1` | type: Invalid option: expected one of "schema-additive"\\|"system", 50% sure |',
        '',
        '### `20260104000000_note`',
        '',
        'Rehearsal: ❌ rehearsal failed at: up',
        '',
        '| level | rule | where | finding |',
        '|---|---|---|---|',
        '| **error** | `rehearsal` | `migrations/20260104000000_note/add-note.up.sql:2` | rehearsal failed at "up": relation "accounts" does not exist<br>second line |',
        '',
      ].join('\n'),
    );
  });

  it('a passing check says so in one line, with the warnings it still found', () => {
    const { database: _database, ...withoutDatabase } = REPORT;
    const passed: PrCheckReport = { ...withoutDatabase, rehearsals: [], notRehearsed: [], findings: REPORT.findings.slice(1, 3), ok: true };
    expect(checkVerdict(passed)).toBe(
      '✅ ferry check passed: 2 migrations new or changed against origin/main, linted without a database; no error findings (2 warnings).',
    );
  });
});

describe('SARIF', () => {
  it('the log validates against the SARIF 2.1.0 schema: driver ferry, one rule per rule, results located from %SRCROOT%', () => {
    const log = renderSarif(REPORT, { version: '0.1.0' });
    expect(validSarif(log), JSON.stringify(validSarif.errors, null, 2)).toBe(true);
    const run = log.runs[0];
    expect(run?.tool.driver).toMatchObject({ name: 'ferry', version: '0.1.0' });
    expect(run?.tool.driver.rules.map((r) => r.id)).toEqual(['index-not-concurrent', 'type-mismatch', 'manifest', 'rehearsal']);
    expect(run?.tool.driver.rules[0]?.shortDescription.text).toBe(
      'CREATE INDEX holds a SHARE lock on the table for the whole build, which blocks every INSERT, UPDATE and DELETE until it finishes (minutes on a large table).',
    );
    expect(run?.results[0]).toEqual({
      ruleId: 'index-not-concurrent',
      ruleIndex: 0,
      level: 'error',
      message: { text: expect.stringContaining('without CONCURRENTLY\nfix: use the add-index operation') },
      locations: [
        { physicalLocation: { artifactLocation: { uri: `db/migrations/${ID}/add-index.up.sql`, uriBaseId: '%SRCROOT%' }, region: { startLine: 2 } } },
      ],
    });
    expect(run?.results[1]?.suppressions).toEqual([{ kind: 'external', status: 'accepted', justification: 'acknowledged in the manifest (lint.acknowledge)' }]);
    expect(run?.results.map((r) => r.ruleIndex)).toEqual([0, 0, 1, 2, 3]);
  });

  it('the validator rejects what is not SARIF, so the check above can fail', () => {
    const log = renderSarif(REPORT, { version: '0.1.0' }) as unknown as { runs: { results: { level: string }[] }[] };
    (log.runs[0]?.results[0] as { level: string }).level = 'fatal';
    expect(validSarif(log)).toBe(false);
    expect(validSarif({ version: '2.1.0' })).toBe(false);
  });

  it('the SARIF of real checks validates: a failing branch and a passing one', async () => {
    const failing = repoProject();
    failing.migration('20260102000000_users_email_idx', [UNSAFE_INDEX]);
    const passing = repoProject();
    passing.migration('20260102000000_orders', [SAFE_TABLE]);
    for (const p of [failing, passing]) {
      const report = await prCheck({ projectDir: p.root, processEnv: {} });
      const log = renderSarif(report, { version: '0.1.0' });
      expect(validSarif(log), JSON.stringify(validSarif.errors, null, 2)).toBe(true);
      expect(log.runs[0]?.results.length).toBe(report.findings.length);
    }
  });
});
