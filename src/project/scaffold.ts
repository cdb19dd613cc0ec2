import { appendFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { phaseTicketTexts } from '../docs/ticket.js';
import { FerryError } from '../errors.js';
import { MIGRATION_NAME_RULE, migrationNameProblem } from '../migration/ids.js';
import { configJsonSchema, MANIFEST_SCHEMA_FILE, manifestJsonSchema, schemaText } from '../migration/json-schema.js';
import type { ManifestInput, MigrationType, Strategy } from '../migration/manifest.js';
import { CONFIG_FILE, type Project } from './config.js';
import { entryExists, readTextFile, UnreadableFile } from './text-file.js';
import { createTicket } from './tickets.js';

/** What `ferry init` writes: a config with a local (embedded) environment and examples of server ones. */
export function defaultConfig(): Record<string, unknown> {
  return {
    migrationsDir: 'migrations',
    defaultEnv: 'local',
    environments: {
      local: { dataDir: '.ferry/local' },
      staging: { urlEnv: 'STAGING_DATABASE_URL' },
      production: { url: 'postgres://app@db.internal:5432/app', passwordEnv: 'PRODUCTION_DB_PASSWORD', requireApproval: true },
    },
    lockTimeout: '3s',
    lockRetries: 5,
    lockWait: '30s',
  };
}

/** Create ferry.config.json and migrations/ in `dir`; refuses to overwrite an existing config. */
export function initProject(dir: string): string[] {
  const file = join(dir, CONFIG_FILE);
  if (entryExists(file)) throw new FerryError('E_CONFIG', `${file} already exists`, 'this folder is already a ferry project; edit the file instead');
  const gitignore = join(dir, '.gitignore');
  const ignored = entryExists(gitignore) ? readGitignore(gitignore) : '';
  mkdirSync(join(dir, 'migrations'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(defaultConfig(), null, 2)}\n`);
  const written = [file, join(dir, 'migrations/'), writeSchema(join(dir, 'migrations', MANIFEST_SCHEMA_FILE), 'manifest')];
  if (!/^\.ferry\/?$/m.test(ignored)) {
    appendFileSync(gitignore, `${ignored && !ignored.endsWith('\n') ? '\n' : ''}.ferry/\n`);
    written.push(gitignore);
  }
  return written;
}

/**
 * Write the JSON Schema of `migration.json` (or, with `config`, of
 * `ferry.config.json`) to `file`, creating its folder; returns the path.
 * Editors complete and check a manifest whose `$schema` points at it.
 */
export function writeSchema(file: string, which: 'manifest' | 'config'): string {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, schemaText(which === 'manifest' ? manifestJsonSchema() : configJsonSchema()));
  return file;
}

function readGitignore(file: string): string {
  try {
    return readTextFile(file);
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    throw new FerryError('E_CONFIG', err.message, 'make .gitignore a readable UTF-8 file, or remove it; ferry adds ".ferry/" to it');
  }
}

function timestamp(d: Date): string {
  return d.toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** Options of `ferry new`. */
export interface NewMigrationOptions {
  name: string;
  type: MigrationType;
  strategy: Strategy;
  now?: Date;
}

/**
 * Write a new migration folder `<timestamp>_<name>` with a manifest and one
 * step's forward, rollback and verify files to fill in; the manifest's
 * `$schema` names `migrations/migration.schema.json`, which is (re)written too.
 */
export function newMigration(project: Project, opts: NewMigrationOptions): { id: string; dir: string; files: string[]; tickets: string[] } {
  const problem = migrationNameProblem(opts.name);
  if (problem) throw new FerryError('E_USAGE', `invalid migration name: ${problem}`, MIGRATION_NAME_RULE);
  const id = `${timestamp(opts.now ?? new Date())}_${opts.name}`;
  const dir = join(project.migrationsDir, id);
  if (entryExists(dir)) throw new FerryError('E_USAGE', `${dir} already exists`, 'pick another name');
  mkdirSync(dir, { recursive: true });
  const manifest: ManifestInput = {
    $schema: `../${MANIFEST_SCHEMA_FILE}`,
    title: opts.name.replace(/[_-]+/g, ' '),
    summary: 'What changes, for whom, and why.',
    type: opts.type,
    strategy: opts.strategy,
    flag: opts.name.replace(/_/g, '-'),
    plan: {
      scope: { systems: ['the services that read or write the changed tables'], users: 'who notices the change, and how many' },
      timeline: { plan: '2d', preparation: '3d' },
      risks: [
        {
          risk: 'the backfill or a lock slows the live application',
          likelihood: 'medium',
          impact: 'medium',
          mitigation: 'batches sized to a target duration, lock_timeout with retries; watch the health matrix',
        },
        {
          risk: 'old and new application versions disagree about the data',
          likelihood: 'low',
          impact: 'high',
          mitigation: 'both shapes kept in sync until cleanup; verify --full before it',
        },
      ],
      successCriteria: [
        { text: 'every declared check passes with zero data errors', proof: 'no-data-errors' },
        { text: 'rolled out to 100 % without a rollback', proof: 'no-rollbacks' },
        'no increase in support tickets about the change',
      ],
      rollbackCriteria: ['any data loss or corruption found by a check'],
      approvals: ['Tech Lead', 'Product Owner', 'Stakeholders'],
      deprecationPeriod: '90d',
    },
    pointOfNoReturn: null,
    steps: [{ id: 'change', kind: 'sql', transaction: true }],
  };
  const files: Record<string, string> = {
    'migration.json': `${JSON.stringify(manifest, null, 2)}\n`,
    'change.up.sql': '-- forward: write the change here, e.g.\n-- ALTER TABLE users ADD COLUMN first_name text;\n',
    'change.down.sql': '-- rollback: undo exactly what change.up.sql does, e.g.\n-- ALTER TABLE users DROP COLUMN first_name;\n',
    'change.verify.sql':
      "-- verify: each query must return no rows, or rows whose first column is true, e.g.\n-- SELECT count(*) = 1 FROM information_schema.columns WHERE table_name = 'users' AND column_name = 'first_name';\n",
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  // The schema the new manifest's "$schema" names, kept current with this ferry.
  writeSchema(join(project.migrationsDir, MANIFEST_SCHEMA_FILE), 'manifest');
  const tickets = phaseTicketTexts(id, manifest.title).map(
    (t) =>
      createTicket(project.root, { title: t.title, type: 'task', body: t.body, migration: id, phase: t.phase, ...(opts.now ? { now: opts.now } : {}) }).file,
  );
  return { id, dir, files: Object.keys(files).map((f) => join(dir, f)), tickets };
}
