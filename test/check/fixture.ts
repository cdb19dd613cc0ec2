import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TestTarget } from '../helpers/databases.js';
import { createProject, type StepFiles, type TestProject } from '../helpers/project.js';

/** The migration on main every fixture starts from: a users table. */
export const USERS = '20260101000000_users';

/** Run git in `cwd` (no shell); its stdout. */
export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A project in a git repository of its own: main holds {@link USERS}, and HEAD is a branch `feature` off it. */
export interface RepoProject extends TestProject {
  /** Commit everything on the current branch. */
  commit(message: string): void;
}

/** No database: for checks without --env the config still needs an environment, which is never opened. */
const NO_DATABASE: TestTarget = {
  kind: 'pglite',
  dataDir: join(tmpdir(), 'ferry-check-never-opened'),
  open: () => Promise.reject(new Error('this test opens no database')),
};

/** A ferry project (on `target`, or with no database) in a fresh git repository, on branch `feature` off `main`. */
export function repoProject(target: TestTarget = NO_DATABASE): RepoProject {
  const project = createProject(target);
  const root = project.root;
  git(root, 'init', '-q', '-b', 'main');
  git(root, 'config', 'user.email', 'ci@example.com');
  git(root, 'config', 'user.name', 'CI');
  git(root, 'config', 'commit.gpgsign', 'false');
  writeFileSync(join(root, '.gitignore'), '.ferry/\n');
  project.migration(USERS, [{ id: 'create', up: 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\n', down: 'DROP TABLE users;\n' }]);
  const commit = (message: string) => {
    git(root, 'add', '-A');
    git(root, 'commit', '-q', '-m', message);
  };
  commit('users');
  git(root, 'checkout', '-q', '-b', 'feature');
  return { ...project, commit };
}

/** A step that builds an index on users without CONCURRENTLY (an error of the linter) in its second statement, on line 2. */
export const UNSAFE_INDEX: StepFiles = {
  id: 'add-index',
  up: 'ALTER TABLE users ADD COLUMN nickname text;\nCREATE INDEX users_email_idx ON users (email);\n',
  down: 'DROP INDEX users_email_idx;\nALTER TABLE users DROP COLUMN nickname;\n',
};

/** A step that creates a table: safe. */
export const SAFE_TABLE: StepFiles = {
  id: 'create',
  up: 'CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint);\n',
  down: 'DROP TABLE orders;\n',
};

/** A folder outside any repository, for a project git does not know. */
export function folderOutsideGit(): string {
  return mkdtempSync(join(tmpdir(), 'ferry-check-nogit-'));
}

/** A ferry project with no database at `dir` (not in a repository of its own). */
export function projectWithoutDatabase(): TestProject {
  return createProject(NO_DATABASE);
}

/** A repository whose ferry project is in its folder `db/`: main holds {@link USERS}; HEAD is `feature`. Returns the repository and the project folder. */
export function nestedRepoProject(): { repo: string; projectDir: string; migration: TestProject['migration'] } {
  const repo = folderOutsideGit();
  const projectDir = join(repo, 'db');
  const inner = createProject(NO_DATABASE);
  cpSync(inner.root, projectDir, { recursive: true });
  const migration: TestProject['migration'] = (id, steps, extra) => {
    inner.migration(id, steps, extra);
    cpSync(join(inner.root, 'migrations', id), join(projectDir, 'migrations', id), { recursive: true });
    return id;
  };
  git(repo, 'init', '-q', '-b', 'main');
  git(repo, 'config', 'user.email', 'ci@example.com');
  git(repo, 'config', 'user.name', 'CI');
  git(repo, 'config', 'commit.gpgsign', 'false');
  migration(USERS, [{ id: 'create', up: 'CREATE TABLE users (id bigint PRIMARY KEY, email text);\n', down: 'DROP TABLE users;\n' }]);
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'users');
  git(repo, 'checkout', '-q', '-b', 'feature');
  return { repo, projectDir, migration };
}

// The SARIF 2.1.0 schema is draft-04, which ajv 8 does not read; @microsoft/jest-sarif ships it with its own ajv 6,
// configured here as jest-sarif configures it (draft-04 meta-schema, `id` as the schema id).
const require = createRequire(import.meta.url);
const JEST_SARIF = dirname(require.resolve('@microsoft/jest-sarif/package.json'));
interface Ajv6 {
  addMetaSchema(schema: unknown): void;
  compile(schema: unknown): ((data: unknown) => boolean) & { errors?: unknown[] | null };
}
const Ajv = require(join(JEST_SARIF, 'node_modules/ajv')) as new (opts: Record<string, unknown>) => Ajv6;
const ajv = new Ajv({ schemaId: 'auto', allErrors: true });
ajv.addMetaSchema(require(join(JEST_SARIF, 'node_modules/ajv/lib/refs/json-schema-draft-04.json')));

/** The SARIF 2.1.0 schema (OASIS, as @microsoft/jest-sarif ships it). */
export const SARIF_SCHEMA = require(join(JEST_SARIF, 'lib/schemas/sarif-2.1.0-rtm.5.json')) as { id: string };
/** Whether a document is a valid SARIF 2.1.0 log; `.errors` says why not. */
export const validSarif = ajv.compile(SARIF_SCHEMA);
