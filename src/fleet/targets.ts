import { resolve } from 'node:path';
import { FerryError } from '../errors.js';
import { type FleetConfig, type Project, passwordFrom } from '../project/config.js';
import { readTextFile, UnreadableFile } from '../project/text-file.js';

/** One database of a fleet: its identity (the URL without password, normalized), how to connect, and its database name. */
export interface FleetTarget {
  /** `postgres://user@host:port/database`: the key of the database in the ledger, safe to print. */
  id: string;
  /** The URL to connect with, as written (password included when written there). */
  url: string;
  /** The password from the fleet's `passwordEnv`, for a URL that has none. */
  password?: string;
  /** The database name, which `canaries` may give instead of a URL. */
  database: string;
}

/** A fleet environment's section, or undefined when `envName` is one database (or unknown). */
export function fleetConfigOf(project: Project, envName: string): FleetConfig | undefined {
  return project.config.environments[envName]?.fleet;
}

/** The control environment of a fleet: `control`, else the query's environment. */
export function controlEnvOf(fleetName: string, fleet: FleetConfig): string {
  const control = fleet.control ?? ('query' in fleet.targets ? fleet.targets.query.env : undefined);
  if (!control) {
    throw new FerryError(
      'E_CONFIG',
      `fleet "${fleetName}" names no control environment for its ledger`,
      `add "control": "<environment>" to environments.${fleetName}.fleet: a server environment whose database holds the ledger`,
    );
  }
  return control;
}

/** The URLs a fleet lists in its config or its file (a query's come from the database: see {@link fleetTargets}). */
export function listedUrls(project: Project, fleetName: string, fleet: FleetConfig): string[] | undefined {
  const t = fleet.targets;
  if ('urls' in t) return t.urls;
  if (!('file' in t)) return undefined;
  const file = resolve(project.root, t.file);
  let text: string;
  try {
    text = readTextFile(file);
  } catch (err) {
    if (!(err instanceof UnreadableFile)) throw err;
    throw new FerryError('E_CONFIG', `fleet "${fleetName}": ${err.message}`, `make ${t.file} a readable file of postgres:// URLs, one per line`);
  }
  return text
    .split('\n')
    .map((l) => l.replace(/#.*$/, '').trim())
    .filter((l) => l !== '');
}

/** The identity of a postgres:// URL (no password; host lower-cased, default port), its database name, or why it is no PostgreSQL URL. */
export function targetIdentity(url: string): { id: string; database: string } | { problem: string } {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return { problem: 'not a URL' };
  }
  if (u.protocol !== 'postgres:' && u.protocol !== 'postgresql:') return { problem: `"${u.protocol}" is not postgres:// or postgresql://` };
  const database = decodeURIComponent(u.pathname.replace(/^\//, ''));
  if (!u.hostname || !database) return { problem: 'a fleet URL needs a host and a database name' };
  const user = u.username ? `${decodeURIComponent(u.username)}@` : '';
  return { id: `postgres://${user}${u.hostname.toLowerCase()}:${u.port || '5432'}/${database}`, database };
}

/** A URL safe to print in an error: its password hidden. */
function shown(url: string): string {
  return url.replace(/(\/\/[^:/@]*:)[^@]*@/, '$1***@');
}

/**
 * Validate a fleet's URLs (from its list, file or query) into targets: every one a postgres:// URL, no two the
 * same database after normalization, at least one. Nothing is opened; every problem is E_CONFIG naming the URLs.
 */
export function fleetTargets(fleetName: string, fleet: FleetConfig, urls: readonly string[], processEnv: NodeJS.ProcessEnv = process.env): FleetTarget[] {
  const where = 'query' in fleet.targets ? 'its query' : 'file' in fleet.targets ? fleet.targets.file : `environments.${fleetName}.fleet.targets.urls`;
  if (urls.length === 0) {
    throw new FerryError('E_CONFIG', `fleet "${fleetName}" has no databases (${where} gives none)`, 'list at least one postgres:// URL');
  }
  const bad: string[] = [];
  const byId = new Map<string, string[]>();
  const targets: FleetTarget[] = [];
  for (const url of urls) {
    const ident = targetIdentity(url);
    if ('problem' in ident) {
      bad.push(`${JSON.stringify(shown(url))}: ${ident.problem}`);
      continue;
    }
    const same = byId.get(ident.id);
    if (same) {
      same.push(url);
      continue;
    }
    byId.set(ident.id, [url]);
    targets.push({ id: ident.id, url, database: ident.database });
  }
  if (bad.length) {
    throw new FerryError(
      'E_CONFIG',
      `fleet "${fleetName}": not PostgreSQL URLs in ${where}:\n  ${bad.join('\n  ')}`,
      'write each as postgres://user@host:port/database',
    );
  }
  const dups = [...byId.entries()].filter(([, all]) => all.length > 1);
  if (dups.length) {
    const lines = dups.map(([id, all]) => `${id} (${all.length} times)`);
    throw new FerryError(
      'E_CONFIG',
      `fleet "${fleetName}": the same database is listed more than once in ${where}:\n  ${lines.join('\n  ')}`,
      'list each database once (URLs differing only in password, host case or the default port 5432 are the same database)',
    );
  }
  if (fleet.passwordEnv) {
    const pw = passwordFrom(fleetName, fleet.passwordEnv, processEnv);
    for (const t of targets) if (!new URL(t.url).password) t.password = pw;
  }
  return targets;
}

/** The ids of the canaries (URLs or database names), in their order; E_CONFIG naming a canary that is no target. */
export function canaryIds(fleetName: string, canaries: readonly string[], targets: readonly FleetTarget[]): string[] {
  return canaries.map((c) => {
    const ident = targetIdentity(c);
    const hit = 'id' in ident ? targets.find((t) => t.id === ident.id) : targets.filter((t) => t.database === c);
    const found = Array.isArray(hit) ? (hit.length === 1 ? hit[0] : undefined) : hit;
    if (!found) {
      const why = Array.isArray(hit) && hit.length > 1 ? `names ${hit.length} databases; give its URL` : 'is not one of its databases';
      throw new FerryError('E_CONFIG', `fleet "${fleetName}": canary "${shown(c)}" ${why}`, 'name each canary by a database name or URL of the fleet');
    }
    return found.id;
  });
}

/** The failure budget as a number of databases (a percentage of `size`, rounded down). */
export function failureBudgetOf(budget: FleetConfig['failureBudget'], size: number): number {
  if (typeof budget === 'number') return budget;
  return Math.floor((Number.parseFloat(budget) * size) / 100);
}
