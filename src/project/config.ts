import { dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import type { DatabaseTarget } from '../db/connect.js';
import { FerryError } from '../errors.js';
import { entryExists, readTextFile, UnreadableFile } from './text-file.js';

/** The project's configuration file name, at the project root. */
export const CONFIG_FILE = 'ferry.config.json';

const duration = z.string().regex(/^\d+(ms|s|min)$/, 'must be a duration like "500ms", "3s" or "2min"');

const waveSchema = z
  .union([
    z.strictObject({ count: z.number().int().min(1).describe('This many databases in the wave.') }),
    z.strictObject({ percent: z.number().gt(0).max(100).describe('The share of the fleet done when the wave ends (cumulative), 0–100.') }),
  ])
  .describe('One wave: `{"count": n}` databases, or `{"percent": p}`: p % of the fleet done when it ends.');

const fleetTargetsSchema = z
  .union([
    z.strictObject({ urls: z.array(z.string()).describe('postgres:// URLs, one per database.') }),
    z.strictObject({ file: z.string().describe('A file of postgres:// URLs, one per line (`#` starts a comment), relative to the project.') }),
    z.strictObject({
      query: z
        .strictObject({
          env: z.string().describe('The (single-database, server) environment the query runs in.'),
          sql: z.string().describe('A SELECT whose first column is each database\'s URL, e.g. "SELECT url FROM tenants".'),
        })
        .describe('Read the URLs from a database.'),
    }),
  ])
  .describe('Where the databases come from: exactly one of `urls`, `file` or `query`.');

const fleetSchema = z
  .strictObject({
    targets: fleetTargetsSchema,
    control: z
      .string()
      .optional()
      .describe("The (single-database, server) environment holding the fleet ledger (`ferry fleet init`); default: the query's environment."),
    passwordEnv: z.string().optional().describe('Name of an environment variable holding the password of every target URL that has none.'),
    concurrency: z.number().int().min(1).max(64).default(8).describe('Databases in flight at once per runner; default 8.'),
    waves: z
      .array(waveSchema)
      .min(1)
      .default([{ count: 1 }, { percent: 5 }, { percent: 25 }, { percent: 50 }, { percent: 100 }])
      .describe('The waves, in order; a wave starts when every database of the previous one is done. Default: 1 canary, then 5, 25, 50, 100 %.'),
    canaries: z.array(z.string()).default([]).describe('URLs or database names that always go first (in this order); `down` reaches them last.'),
    failureBudget: z
      .union([z.number().int().min(0), z.string().regex(/^\d+(\.\d+)?%$/, 'must be a whole number of databases or a percentage like "2%"')])
      .default(0)
      .describe('Failed databases allowed before the run stops after the current wave: a number, or a share like "2%"; default 0.'),
    lease: duration.default('60s').describe("How long a runner's claim on a database lasts without renewal (a killed runner's claims expire); default 60s."),
  })
  .describe('Many databases (tenants, shards) taking each migration in waves, from a ledger in the control environment.');

const environmentSchema = z
  .strictObject({
    url: z.string().optional().describe('postgres:// URL of a server; without `url`/`urlEnv` the environment is embedded PGlite in `dataDir`.'),
    urlEnv: z
      .string()
      .optional()
      .describe('Name of an environment variable holding the whole URL; wins over `url`, and must be set when the environment is used.'),
    passwordEnv: z.string().optional().describe('Name of an environment variable holding the password (keep passwords out of the file).'),
    dataDir: z.string().optional().describe('PGlite data directory, relative to the project; default `.ferry/local`. Excludes `url`.'),
    requireApproval: z.boolean().optional().describe('`up` refuses planned migrations until `ferry approve`; default false embedded, true for servers.'),
    fleet: fleetSchema.optional().describe('Makes the environment a fleet of databases (excludes `url`, `urlEnv`, `passwordEnv` and `dataDir`).'),
  })
  .refine((e) => !(e.url && e.dataDir), { message: 'set either url (a server) or dataDir (embedded), not both' })
  .refine((e) => !(e.fleet && (e.url || e.urlEnv || e.dataDir || e.passwordEnv)), {
    message: 'a fleet environment has no url, urlEnv, passwordEnv or dataDir of its own (put passwordEnv inside "fleet")',
  })
  .describe('One database: a server (`url` / `urlEnv`) or embedded PGlite (`dataDir`); or many, with `fleet`.');

/** The schema of `ferry.config.json` (`ferry schema --config` prints it as JSON Schema). */
export const configSchema = z.strictObject({
  $schema: z.string().optional().describe('The JSON Schema of this file, for editors; ignored by ferry.'),
  migrationsDir: z.string().default('migrations').describe('Folder of migration folders, relative to the project.'),
  defaultEnv: z.string().default('local').describe('Environment used without `--env`.'),
  environments: z
    .record(z.string().regex(/^[A-Za-z0-9_-]+$/), environmentSchema)
    .default({ local: {} })
    .describe('Named environments (letters, digits, "-", "_"), each one database.'),
  lockTimeout: duration.default('3s').describe('`lock_timeout` of every step\'s transaction, like "500ms", "3s" or "2min".'),
  lockRetries: z
    .number()
    .int()
    .min(0)
    .max(50)
    .default(5)
    .describe('Retries (doubling backoff from 250 ms) after a lock timeout, deadlock or serialization failure.'),
  lockWait: duration
    .default('30s')
    .describe("How long a runner waits for another runner's lock before it names the holder and gives up (`--lock-wait` overrides it)."),
});

/** The `fleet` section of a fleet environment, with its defaults filled in. */
export type FleetConfig = z.output<typeof fleetSchema>;
/** One wave of a fleet: a count of databases, or the cumulative share of the fleet done when it ends. */
export type WaveConfig = z.output<typeof waveSchema>;

/** A parsed `ferry.config.json`. */
export type ProjectConfig = z.output<typeof configSchema>;
/** One named environment of the config. */
export type EnvironmentConfig = z.output<typeof environmentSchema>;

/** A project: its root folder and configuration. */
export interface Project {
  root: string;
  config: ProjectConfig;
  migrationsDir: string;
}

/** How to reach one environment's database, resolved from config and process environment. */
export type Connection = DatabaseTarget & { env: string; requireApproval: boolean };

/** Milliseconds of a config duration ("500ms", "3s", "2min"). */
export function durationMs(text: string): number {
  const m = /^(\d+)(ms|s|min)$/.exec(text);
  if (!m) throw new FerryError('E_CONFIG', `not a duration: "${text}"`, 'write it like "500ms", "3s" or "2min"');
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/** Format zod issues as `file: field: message` lines. */
export function formatIssues(file: string, issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((i) => `${file}: ${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
}

/** Find the project root: `dir` or the nearest parent holding ferry.config.json. */
export function findProjectRoot(dir: string): string | undefined {
  let d = resolve(dir);
  for (;;) {
    if (entryExists(join(d, CONFIG_FILE))) return d;
    const up = dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/** Parse a config file's text; every problem is reported at once. */
export function parseConfig(text: string, file: string): ProjectConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new FerryError('E_CONFIG', `${file} is not valid JSON: ${(err as Error).message}`, 'fix the JSON syntax');
  }
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = formatIssues(file, parsed.error.issues);
    throw new FerryError('E_CONFIG', `invalid configuration:\n  ${lines.join('\n  ')}`, 'fix these fields (see README, "Configuration")', {
      problems: lines,
    });
  }
  return parsed.data;
}

/** Load the project around `cwd`. */
export function loadProject(cwd: string): Project {
  const root = findProjectRoot(cwd);
  if (!root) {
    throw new FerryError('E_CONFIG', `no ${CONFIG_FILE} in ${resolve(cwd)} or any parent folder`, 'run `ferry init` in your project, or pass --project DIR');
  }
  const file = join(root, CONFIG_FILE);
  const config = parseConfig(readConfigText(file), file);
  return { root, config, migrationsDir: resolve(root, config.migrationsDir) };
}

/** The text of a config file; one that cannot be read (permissions, a folder, a broken link, not UTF-8) is E_CONFIG naming the path and the reason. */
export function readConfigText(file: string): string {
  try {
    return readTextFile(file);
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    throw new FerryError(
      'E_CONFIG',
      err.message,
      `make ${CONFIG_FILE} a readable UTF-8 file: check its permissions and owner, or restore it from version control`,
      {
        file,
        reason: err.reason,
      },
    );
  }
}

/** Resolve environment `name` (default: the config's defaultEnv) to a connection. */
export function resolveConnection(project: Project, name?: string, processEnv: NodeJS.ProcessEnv = process.env): Connection {
  const envName = name ?? project.config.defaultEnv;
  const env = project.config.environments[envName];
  if (!env) {
    const known = Object.keys(project.config.environments).join(', ') || '(none)';
    throw new FerryError('E_CONFIG', `unknown environment "${envName}"`, `use one of: ${known} (environments in ${CONFIG_FILE})`);
  }
  if (env.fleet) {
    throw new FerryError(
      'E_CONFIG',
      `environment "${envName}" is a fleet of databases, not one database`,
      `fleet commands take it (\`ferry up|down|verify|status|contract|backfill|approve --env ${envName}\`, \`ferry fleet status --env ${envName}\`); for one of its databases, add an environment with its url`,
    );
  }
  let url = env.url;
  if (env.urlEnv) {
    url = processEnv[env.urlEnv];
    if (!url)
      throw new FerryError('E_CONFIG', `environment "${envName}" takes its URL from $${env.urlEnv}, which is not set`, `export ${env.urlEnv}=postgres://…`);
  }
  if (!url) {
    return {
      env: envName,
      driver: 'pglite',
      dataDir: resolve(project.root, env.dataDir ?? '.ferry/local'),
      requireApproval: env.requireApproval ?? false,
    };
  }
  const conn: Connection = { env: envName, driver: 'server', url, requireApproval: env.requireApproval ?? true };
  if (env.passwordEnv) conn.password = passwordFrom(envName, env.passwordEnv, processEnv);
  return conn;
}

/** The password environment `envName` takes from variable `name`; E_CONFIG when it is not set. */
export function passwordFrom(envName: string, name: string, processEnv: NodeJS.ProcessEnv = process.env): string {
  const pw = processEnv[name];
  if (pw === undefined) throw new FerryError('E_CONFIG', `environment "${envName}" takes its password from $${name}, which is not set`, `export ${name}=…`);
  return pw;
}
