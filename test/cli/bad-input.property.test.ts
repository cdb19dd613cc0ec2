import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildProgram, main } from '../../src/cli/main.js';
import { EXIT_CODES, isFerryError } from '../../src/errors.js';
import { loadAll } from '../../src/migration/loader.js';
import { loadProject, resolveConnection } from '../../src/project/config.js';
import { forEachDriver, type TestTarget } from '../helpers/databases.js';
import { fingerprint } from '../helpers/fingerprint.js';
import { createProject, runFerry, type TestProject } from '../helpers/project.js';

/**
 * Generated bad input — manifests, the config, CLI arguments and SQL file
 * contents — against a project with one applied and one pending migration.
 * Every case must exit with a documented code other than 0 and 1, print
 * exactly one JSON error document with --json, print no stack trace, and leave
 * the database exactly as it was (schema dump, every table's rows, ferry's own
 * state). Commands run in-process through the CLI's `main` (the same code the
 * binary runs); a sample also runs as a real `ferry` process.
 */

const NO_STACK = /\n\s+at .+:\d+:\d+/;
const DOCUMENTED = new Set(Object.values(EXIT_CODES).filter((c) => c > 1));
const PENDING = '0002_next';

/** What one run printed and how it exited. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the CLI in this process, capturing what it writes. */
async function ferry(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: string | Uint8Array) => out.push(String(chunk)) > 0) as typeof process.stdout.write;
  process.stderr.write = ((chunk: string | Uint8Array) => err.push(String(chunk)) > 0) as typeof process.stderr.write;
  try {
    const code = await main(['node', 'ferry', ...args]);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
}

/** The base project: `0001_base` applied (a table with rows), `0002_next` pending (an SQL step and an operation). */
async function baseProject(target: TestTarget): Promise<TestProject> {
  const p = createProject(target);
  p.migration('0001_base', [
    {
      id: 'create',
      up: "CREATE TABLE items (id int PRIMARY KEY, name text);\nINSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');",
      down: 'DROP TABLE items;',
    },
  ]);
  p.migration(
    PENDING,
    [{ id: 'add-note', up: 'ALTER TABLE items ADD COLUMN note text;', down: 'ALTER TABLE items DROP COLUMN note;', verify: 'SELECT true' }],
    {
      flag: 'next-flag',
      steps: [
        { id: 'add-note', transaction: true },
        { id: 'tag', kind: 'op', op: 'add-column', table: 'items', column: 'tag', type: 'text' },
      ],
    },
  );
  const r = await ferry(['up', '0001_base', '--project', p.root]);
  expect(r.code, r.stderr).toBe(0);
  return p;
}

/** A fresh copy of the base project for one case, so cases never see each other's edits. */
function copyOf(p: TestProject): string {
  const dir = mkdtempSync(join(tmpdir(), 'ferry-bad-'));
  cpSync(p.root, dir, { recursive: true, filter: (src) => !src.includes(`${join(p.root, '.ferry')}`) });
  return dir;
}

/** A bad input: the files it writes into a project copy, and the command run on it. */
interface Case {
  family: string;
  files: Record<string, string | Buffer>;
  args: string[];
}

const json = (v: unknown) => JSON.stringify(v, null, 2);
const manifestOf = (root: string) => JSON.parse(readFileSync(join(root, 'migrations', PENDING, 'migration.json'), 'utf8')) as Record<string, unknown>;
const configOf = (root: string) => JSON.parse(readFileSync(join(root, 'ferry.config.json'), 'utf8')) as Record<string, unknown>;

/** Commands that read the migrations; each must refuse bad files before touching the database. */
const MIGRATION_COMMANDS: string[][] = [
  ['up'],
  ['up', '--dry-run'],
  ['up', PENDING],
  ['down'],
  ['status'],
  ['lint'],
  ['verify'],
  ['plan', PENDING],
  ['backfill', PENDING],
  ['contract', PENDING],
  ['baseline', PENDING],
  ['approve', PENDING, '--as', 'Tech Lead'],
  ['rehearse', PENDING],
  ['rollout', PENDING, 'set', '5'],
];
const command = fc.constantFrom(...MIGRATION_COMMANDS);

/** Values of the wrong shape for any manifest or config field. */
const anyValue = fc.oneof(
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.boolean(),
  fc.constant(null),
  fc.string({ maxLength: 12 }),
  fc.array(fc.integer(), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 6 }), fc.integer(), { maxKeys: 2 }),
);

/** Strings that are no identifier ferry accepts: quotes, semicolons, spaces, capitals, NUL, 64+ bytes. */
const hostileName = fc.oneof(
  fc.constantFrom(`x"; DROP TABLE items; --`, "it's", 'a;b', 'Upper', 'has space', 'nul\u0000byte', 'x'.repeat(64), '../../etc', '', 'é'.repeat(40)),
  fc.string({ minLength: 1, maxLength: 10 }).map((s) => `${s};'"`),
);

/** Hostile SQL expressions for a backfill: a second statement smuggled in, an unbalanced quote, a comment eating the rest. */
const hostileExpr = fc.constantFrom(
  '1; DROP TABLE items',
  "x') ; DROP TABLE items; --",
  'name -- the rest is a comment',
  "'unterminated",
  '(SELECT 1); DELETE FROM items',
  'COMMIT',
  '',
);

const manifestCase: fc.Arbitrary<(m: Record<string, unknown>) => Record<string, unknown> | string | Buffer> = fc.oneof(
  fc
    .tuple(fc.constantFrom('title', 'summary', 'type', 'strategy', 'flag', 'pointOfNoReturn', 'steps', 'rollout', 'health', 'lint', 'checks', 'plan'), anyValue)
    .map(([field, value]) => (m: Record<string, unknown>) => ({ ...m, [field]: value })),
  fc.string({ minLength: 1, maxLength: 12 }).map((field) => (m: Record<string, unknown>) => ({ ...m, [`x-${field}`]: 1 })),
  fc.constantFrom('title', 'summary', 'type', 'strategy', 'steps').map((field) => (m: Record<string, unknown>) => {
    const { [field]: _gone, ...rest } = m;
    return rest;
  }),
  fc
    .tuple(fc.constantFrom('id', 'kind', 'transaction', 'irreversible', 'forward', 'rollback', 'phase', 'x-extra'), fc.oneof(anyValue, hostileName))
    .map(([field, value]) => (m: Record<string, unknown>) => ({
      ...m,
      steps: [{ ...(m.steps as Record<string, unknown>[])[0], [field]: value }, (m.steps as unknown[])[1]],
    })),
  fc
    .tuple(fc.constantFrom('op', 'table', 'column', 'type', 'x-extra'), fc.oneof(anyValue, hostileName))
    .map(([field, value]) => (m: Record<string, unknown>) => ({
      ...m,
      steps: [(m.steps as unknown[])[0], { ...(m.steps as Record<string, unknown>[])[1], [field]: value }],
    })),
  fc.constantFrom('add-note', 'tag').map((id) => (m: Record<string, unknown>) => ({ ...m, steps: [...(m.steps as unknown[]), { id, transaction: true }] })),
  fc.tuple(fc.constantFrom('set', 'where', 'rollback'), hostileExpr).map(([field, expr]) => (m: Record<string, unknown>) => {
    const step: Record<string, unknown> = { id: 'fill', kind: 'backfill', table: 'items', set: { name: "'x'" }, where: 'name IS NULL' };
    step[field] = field === 'where' ? expr : { name: expr };
    return { ...m, steps: [...(m.steps as unknown[]), step] };
  }),
  fc.nat().map((n) => (m: Record<string, unknown>) => {
    const text = json(m);
    return text.slice(0, n % text.length);
  }),
  fc
    .tuple(fc.nat(), fc.constantFrom([0xff], [0xc3], [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xf4, 0x90, 0x80, 0x80]))
    .map(([n, bytes]) => (m: Record<string, unknown>) => {
      const text = Buffer.from(json(m));
      const at = n % text.length;
      return Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at)]);
    }),
  fc.string({ maxLength: 8 }).map((junk) => (m: Record<string, unknown>) => `\uFEFF${json(m)}${junk}}`),
);

/** SQL file contents the loader must refuse: garbage, invalid UTF-8, nothing, or two statements in a non-transactional step. */
const sqlCase: fc.Arbitrary<{ file: string | Buffer; nonTransactional?: boolean }> = fc.oneof(
  fc.string({ minLength: 1, maxLength: 30 }).map((s) => ({ file: `ALTER TABLE items ADD COLUMN ${s} (;` })),
  fc.constantFrom('', '   \n', '-- just a comment\n', '/* nothing */').map((file) => ({ file })),
  fc
    .tuple(fc.nat(), fc.constantFrom([0xff], [0xfe, 0xfe], [0xc3, 0x28], [0xe2, 0x82], [0xed, 0xb0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80]))
    .map(([n, bytes]) => {
      const text = Buffer.from("ALTER TABLE items ADD COLUMN note text DEFAULT 'é';");
      const at = n % text.length;
      return { file: Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at)]) };
    }),
  fc.constant({ file: 'ALTER TABLE items ADD COLUMN note text; ALTER TABLE items ADD COLUMN other text;', nonTransactional: true }),
);

/** Config edits that no longer describe a usable project. */
const configCase: fc.Arbitrary<(c: Record<string, unknown>) => Record<string, unknown> | string | Buffer> = fc.oneof(
  fc
    .tuple(fc.constantFrom('migrationsDir', 'defaultEnv', 'environments', 'lockTimeout', 'lockRetries', 'lockWait'), anyValue)
    .map(([field, value]) => (c: Record<string, unknown>) => ({ ...c, [field]: value })),
  fc.string({ minLength: 1, maxLength: 10 }).map((field) => (c: Record<string, unknown>) => ({ ...c, [`x-${field}`]: true })),
  fc.constantFrom('soon', '3', '-1s', '1h', '1.5s', 'forever').map((d) => (c: Record<string, unknown>) => ({ ...c, lockTimeout: d })),
  fc.string({ minLength: 1, maxLength: 8 }).map((env) => (c: Record<string, unknown>) => ({ ...c, defaultEnv: `nosuch-${env}` })),
  fc
    .constantFrom(
      { urlEnv: 'FERRY_NO_SUCH_VARIABLE' },
      { url: 'postgres://x@127.0.0.1:1/x', dataDir: 'y' },
      { passwordEnv: 'FERRY_NO_SUCH_PASSWORD', url: 'postgres://x@127.0.0.1:1/x' },
    )
    .map((env) => (c: Record<string, unknown>) => ({ ...c, environments: { test: env } })),
  fc
    .constantFrom('postgres://postgres@127.0.0.1:1/unreachable', 'postgres://postgres@127.0.0.1:5432/ferry_no_such_database_x')
    .map((url) => (c: Record<string, unknown>) => ({ ...c, environments: { test: { url, requireApproval: false } } })),
  fc.nat().map((n) => (c: Record<string, unknown>) => json(c).slice(0, n % json(c).length)),
  fc.nat().map((n) => (c: Record<string, unknown>) => {
    const text = Buffer.from(json(c));
    const at = n % text.length;
    return Buffer.concat([text.subarray(0, at), Buffer.from([0xff, 0xfe]), text.subarray(at)]);
  }),
);

/** Options every command knows, so a generated one is certainly unknown. */
function knownOptions(): Set<string> {
  const out = new Set<string>();
  const walk = (c: ReturnType<typeof buildProgram>) => {
    for (const o of c.options) if (o.long) out.add(o.long);
    for (const s of c.commands) walk(s);
  };
  walk(buildProgram());
  return out;
}
const KNOWN = knownOptions();
const COMMANDS = new Set(buildProgram().commands.map((c) => c.name()));

/** Command lines that must be refused: unknown commands and options, bad values, ids no migration can have, missing arguments. */
const argsCase: fc.Arbitrary<string[]> = fc.oneof(
  fc
    .tuple(command, fc.stringMatching(/^[a-z][a-z-]{1,12}$/))
    .filter(([, o]) => !KNOWN.has(`--${o}`))
    .map(([cmd, o]) => [...cmd, `--${o}`]),
  fc
    .stringMatching(/^[a-z][a-z-]{1,10}$/)
    .filter((c) => !COMMANDS.has(c) && c !== 'help')
    .chain((c) => fc.constantFrom<string[]>([c], [c, '--help'], ['help', c])),
  fc
    .string({ maxLength: 6 })
    .filter((v) => !/^\s*\d+\s*$/.test(v) || Number(v) < 1 || Number(v) > 64)
    .chain((v) => fc.constantFrom<string[]>(['up', '--workers', v], ['backfill', PENDING, '--workers', v])),
  fc
    .oneof(
      fc.constantFrom('forever', '10', '-5s', '1.5s', '10 s', '', '1h'),
      fc.string({ maxLength: 5 }).filter((v) => !/^\d+(ms|s|min)$/.test(v)),
    )
    .map((v) => ['status', '--lock-wait', v]),
  fc
    .oneof(
      fc.constantFrom('0', '-3', '1.5', 'all', ''),
      fc.string({ maxLength: 4 }).filter((v) => !(/^\d{1,9}$/.test(v) && Number(v) >= 1)),
    )
    .map((v) => ['verify', '--sample', v]),
  fc.constantFrom('101', '-1', 'half', '5%%', 'NaN', '1e3', '').map((v) => ['rollout', PENDING, 'set', v]),
  fc.constantFrom('maybe', '150', '-1', 'TRUE!', '').map((v) => ['flag', 'set', 'next-flag', v]),
  fc
    .tuple(fc.constantFrom(['up'], ['down'], ['plan'], ['verify'], ['baseline'], ['contract'], ['approve']), hostileName)
    .map(([cmd, id]) => [...cmd, id, ...(cmd[0] === 'approve' ? ['--as', 'Tech Lead'] : [])]),
  fc.stringMatching(/^[a-z]{1,8}$/).map((env) => ['status', '--env', `nosuch-${env}`]),
  fc.constantFrom<string[]>(
    ['approve', PENDING],
    ['forget', PENDING],
    ['acknowledge', PENDING],
    ['rollout'],
    ['flag', 'set'],
    ['new', 'x'],
    ['new', 'x', '--type', 'schema-changing', '--strategy', 'big-bang'],
    ['down', '--to', 'add-note'],
    ['ticket', 'close', 'x'],
    ['approve', PENDING, '--as', 'Janitor'],
    ['new', 'n'.repeat(80), '--type', 'system', '--strategy', 'big-bang'],
  ),
);

/** Write a case's files into a copy of the project; returns the copy's root. */
function prepareCase(p: TestProject, c: Case): string {
  const root = copyOf(p);
  for (const [file, content] of Object.entries(c.files)) writeFileSync(join(root, file), content);
  return root;
}

/** Whether the files of a project copy are refused before any database is involved (so the case is truly bad input). */
async function refusedOffline(root: string): Promise<boolean> {
  try {
    const project = loadProject(root);
    resolveConnection(project);
    await loadAll(project.migrationsDir);
    return false;
  } catch (err) {
    return isFerryError(err);
  }
}

forEachDriver('generated bad input', (suite) => {
  let target: TestTarget;
  let p: TestProject;
  let before: string;
  const seen = new Set<string>();
  const copies: string[] = [];
  beforeAll(async () => {
    target = await suite.fresh();
    p = await baseProject(target);
    before = await fingerprint(target);
  });
  afterAll(() => {
    for (const d of copies) rmSync(d, { recursive: true, force: true });
  });
  // The server has the bulk of the cases; PGlite opens its database in-process for each check, which is slower.
  const runs = suite.kind === 'server' ? 1 : 0.4;

  /** Run a case with and without --json and assert the four properties. */
  async function check(c: Case, real = false): Promise<void> {
    const root = prepareCase(p, c);
    copies.push(root);
    seen.add(
      JSON.stringify({
        family: c.family,
        files: Object.fromEntries(Object.entries(c.files).map(([k, v]) => [k, Buffer.from(v).toString('base64')])),
        args: c.args,
      }),
    );
    const args = [...c.args, '--project', root];
    const withJson = await ferry([...args, '--json']);
    const text = await ferry(args);
    const what = `${c.family}: ferry ${c.args.join(' ')}\n${withJson.stdout}\n${text.stderr}`;
    expect(DOCUMENTED.has(withJson.code), what).toBe(true);
    expect(text.code, what).toBe(withJson.code);
    const doc = JSON.parse(withJson.stdout) as { error?: { code: keyof typeof EXIT_CODES; message: string; hint: string | null } };
    expect(doc.error, what).toBeDefined();
    expect(EXIT_CODES[doc.error?.code as keyof typeof EXIT_CODES], what).toBe(withJson.code);
    for (const r of [withJson, text]) {
      expect(r.stdout + r.stderr, what).not.toMatch(NO_STACK);
      expect(r.stdout + r.stderr, what).not.toContain('this is a bug in ferry');
    }
    if (real) {
      const child = await runFerry(root, [...c.args, '--json']);
      expect(child.code, what).toBe(withJson.code);
      expect(JSON.parse(child.stdout), what).toEqual(JSON.parse(withJson.stdout));
      expect(child.stderr, what).not.toMatch(NO_STACK);
    }
    expect(await fingerprint(target), what).toBe(before);
  }

  it('manifests: every bad manifest of the pending migration is refused, whatever the command', async () => {
    await fc.assert(
      fc.asyncProperty(manifestCase, command, async (edit, args) => {
        const edited = edit(manifestOf(p.root));
        const file = typeof edited === 'string' || Buffer.isBuffer(edited) ? edited : json(edited);
        const c: Case = { family: 'manifest', files: { [join('migrations', PENDING, 'migration.json')]: file }, args };
        const root = prepareCase(p, c);
        copies.push(root);
        fc.pre(await refusedOffline(root));
        await check(c);
      }),
      { numRuns: Math.round(40 * runs), seed: 11 },
    );
  });

  it('SQL files: garbage, invalid UTF-8, empty files and two statements outside a transaction are refused', async () => {
    await fc.assert(
      fc.asyncProperty(sqlCase, fc.constantFrom('add-note.up.sql', 'add-note.down.sql', 'add-note.verify.sql'), command, async (sql, name, args) => {
        const files: Record<string, string | Buffer> = { [join('migrations', PENDING, name)]: sql.file };
        if (sql.nonTransactional) {
          const m = manifestOf(p.root);
          m.steps = [{ id: 'add-note', transaction: false }, (m.steps as unknown[])[1]];
          files[join('migrations', PENDING, 'migration.json')] = json(m);
          files[join('migrations', PENDING, 'add-note.up.sql')] = sql.file;
        }
        const c: Case = { family: 'sql', files, args };
        const root = prepareCase(p, c);
        copies.push(root);
        fc.pre(await refusedOffline(root));
        await check(c);
      }),
      { numRuns: Math.round(30 * runs), seed: 12 },
    );
  });

  it('config: a bad ferry.config.json is refused (or cannot connect) and changes nothing', async () => {
    await fc.assert(
      fc.asyncProperty(configCase, fc.constantFrom<string[]>(['up'], ['down'], ['status'], ['verify'], ['flag', 'list'], ['log']), async (edit, args) => {
        const edited = edit(configOf(p.root));
        const file = typeof edited === 'string' || Buffer.isBuffer(edited) ? edited : json(edited);
        const c: Case = { family: 'config', files: { 'ferry.config.json': file }, args };
        const root = prepareCase(p, c);
        copies.push(root);
        const unreachable =
          (typeof file === 'string' && file.includes('127.0.0.1:1/')) || (typeof file === 'string' && file.includes('ferry_no_such_database_x'));
        fc.pre(unreachable || (await refusedOffline(root)));
        await check(c);
      }),
      { numRuns: Math.round(30 * runs), seed: 13 },
    );
  });

  it('arguments: unknown commands and options, bad values and ids, missing arguments are usage errors or not found', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(argsCase, async (args) => {
        n++;
        await check({ family: 'args', files: {}, args }, n % 10 === 0);
      }),
      { numRuns: Math.round(50 * runs), seed: 14 },
    );
  });

  it('ran at least 100 distinct bad inputs on the server (a share of them on PGlite)', () => {
    expect(seen.size).toBeGreaterThanOrEqual(suite.kind === 'server' ? 100 : 40);
  });
});
