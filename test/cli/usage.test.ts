import { describe, expect, it } from 'vitest';
import { forEachDriver } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry } from '../helpers/project.js';

const STACK = /\n\s+at .+:\d+:\d+/;
const noDb = { kind: 'pglite' as const, dataDir: '/unused', open: () => Promise.reject(new Error('not opened')) };

interface ErrorDocument {
  error: { code: string; message: string; hint: string | null };
}

/** Exactly one JSON document on stdout (JSON.parse takes the whole of it), and nothing in plain text on stderr. */
function onlyJson(stdout: string, stderr: string): ErrorDocument {
  expect(stderr).toBe('');
  return JSON.parse(stdout) as ErrorDocument;
}

describe('usage errors', () => {
  it('--json with an unknown flag, a missing argument or option, a bad choice or an unknown command prints one JSON error document (exit 2)', async () => {
    const p = createProject(noDb);
    const cases: [string[], RegExp, string][] = [
      [['up', '--bogus'], /unknown option '--bogus'/, 'ferry up --help'],
      [['new'], /required option '--type <type>' not specified/, 'ferry new --help'],
      [['new', '--type', 'system', '--strategy', 'big-bang'], /missing required argument 'name'/, 'ferry new --help'],
      [['new', 'x', '--type', 'nope', '--strategy', 'big-bang'], /argument 'nope' is invalid\. Allowed choices are/, 'ferry new --help'],
      [['nosuch'], /unknown command 'nosuch'/, 'ferry --help'],
      [['flag'], /ferry flag needs a command: set, list, get, remove/, 'ferry flag --help'],
      [['flag', 'set', 'only-a-key'], /missing required argument 'value'/, 'ferry flag set --help'],
      [['ticket', 'list', '--everything'], /unknown option '--everything'/, 'ferry ticket list --help'],
    ];
    for (const [i, [args, message, help]] of cases.entries()) {
      // --json anywhere on the line counts, even before a command commander refuses.
      for (const argv of i < 2
        ? [
            [...args, '--json'],
            ['--json', ...args],
          ]
        : [[...args, '--json']]) {
        const r = await runFerry(p.root, argv);
        expect(r.code, `${argv.join(' ')}: ${r.stdout}${r.stderr}`).toBe(2);
        const doc = onlyJson(r.stdout, r.stderr);
        expect(doc.error.code).toBe('E_USAGE');
        expect(doc.error.message).toMatch(message);
        expect(doc.error.message).not.toMatch(/^error:/);
        expect(doc.error.hint).toContain(help);
      }
    }
  });

  it('without --json the same usage errors stay plain text on stderr with the usage hint (exit 2)', async () => {
    const p = createProject(noDb);
    const r = await runFerry(p.root, ['up', '--bogus']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain("error: unknown option '--bogus'");
    expect(r.stderr).toContain('(run with --help for usage)');
  });

  it('an unknown command with --help, or `ferry help` of an unknown command, is a usage error (exit 2), as the unknown command alone is', async () => {
    const p = createProject(noDb);
    for (const args of [
      ['nosuch'],
      ['nosuch', '--help'],
      ['--help', 'nosuch'],
      ['help', 'nosuch'],
      ['--env', 'test', 'nosuch', '-h'],
      ['flag', 'nosuch', '--help'],
    ]) {
      const r = await runFerry(p.root, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout, args.join(' ')).not.toContain('Usage:');
      expect(r.stderr).toContain("[E_USAGE] unknown command 'nosuch'");
      expect(r.stderr).toContain(
        args[0] === 'flag' ? 'run `ferry flag --help` for the commands: set, list, get, remove' : 'run `ferry --help` for the commands',
      );
      expect(r.stderr).not.toMatch(STACK);
      const json = await runFerry(p.root, [...args, '--json']);
      expect(json.code).toBe(2);
      expect(onlyJson(json.stdout, json.stderr).error).toMatchObject({ code: 'E_USAGE', message: "unknown command 'nosuch'" });
    }
    const typo = await runFerry(p.root, ['statsu', '--help']);
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown command 'statsu' (did you mean `ferry status`?)");
  });

  it('help for known commands still prints it and exits 0', async () => {
    for (const args of [['help', 'up'], ['up', '--help'], ['flag', 'set', '--help'], ['help', 'flag'], ['--help'], ['--env', 'x', 'status', '-h'], ['help']]) {
      const r = await runFerry('/', args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout, args.join(' ')).toContain('Usage: ferry');
    }
  });
});

forEachDriver('usage errors change nothing', (suite) => {
  it('a usage error after migrations ran leaves the database as it was', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    p.migration('0001_create', [{ id: 'create', up: 'CREATE TABLE t (a int);', down: 'DROP TABLE t;' }]);
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const before = await fingerprint(target);
    for (const args of [
      ['down', '--bogus', '--json'],
      ['down', '--lock-wait', 'forever'],
      ['nosuch', '--help'],
      ['rollout', '0001_create', 'set', '--json'],
    ]) {
      const r = await runFerry(p.root, args);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(await fingerprint(target)).toBe(before);
  });
});
