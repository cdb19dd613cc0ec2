import { isAbsolute, join, relative } from 'node:path';
import { createJiti } from 'jiti';
import { adaptRequest, adaptResponse } from '../compat/api/adapt.js';
import { type ApiSpec, currentVersion } from '../compat/api/spec.js';
import type { ApiExample, ApiModule } from '../compat/api/types.js';
import type { Queryable } from '../db/database.js';
import { type GuideExample, renderUpgradeGuide } from '../docs/upgrade-guide.js';
import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { apiOf, releasedAtOf } from './consumers.js';

/** What `ferry upgrade-guide <id> --json` prints. */
export interface UpgradeGuide {
  migrationId: string;
  api: string;
  /** T+0 (the flag's first day at 100 %) the dates were resolved from; null: given as offsets. */
  releasedAt: Date | null;
  /** The API module the examples came from (relative to the migration folder); null without one. */
  module: string | null;
  examples: GuideExample[];
  markdown: string;
}

/** Load the manifest's `api.module` from the migration folder: `adapters` (required) and `examples`. E_MANIFEST when it cannot. */
export async function loadApiModule(m: Migration, api: ApiSpec): Promise<ApiModule | null> {
  if (!api.module) return null;
  const file = join(m.dir, api.module);
  const rel = relative(m.dir, file);
  if (rel.startsWith('..') || isAbsolute(rel)) throw new FerryError('E_MANIFEST', `${m.id}: api.module must be inside the migration folder`);
  try {
    const mod = (await createJiti(import.meta.url, { moduleCache: false }).import(file)) as Partial<ApiModule> & { default?: Partial<ApiModule> };
    const found = Array.isArray(mod.adapters) ? mod : mod.default;
    if (!found || !Array.isArray(found.adapters)) throw new Error('it exports no `adapters` array');
    return { adapters: found.adapters, ...(Array.isArray(found.examples) ? { examples: found.examples } : {}) };
  } catch (err) {
    throw new FerryError(
      'E_MANIFEST',
      `${m.id}: cannot load api.module ${api.module}: ${(err as Error).message}`,
      'export `adapters` (and `examples` for the guide) from the module: see ApiModule in ferry/compat',
    );
  }
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/**
 * One example as every version sees it. Examples are written in the newest shape; an older version's request
 * and response bodies are the newest ones converted down by the response adapters (the adapters' new → old
 * representation). The older request converted back up by the request adapters is shown too when it differs
 * from the example's request (a lossy mapping).
 */
export function exampleForVersions(api: ApiSpec, mod: ApiModule, ex: ApiExample, index: number): GuideExample {
  const versions = api.versions.map((v) => v.version);
  const newest = currentVersion(api);
  const call = { method: ex.method.toUpperCase(), path: ex.path };
  return {
    title: ex.title ?? `${call.method} ${ex.path}${index ? ` (${index + 1})` : ''}`,
    method: call.method,
    path: ex.path,
    status: ex.status ?? 200,
    versions: versions.map((version) => {
      const response = adaptResponse(mod.adapters, versions, newest, version, ex.response, call);
      if (ex.request === undefined) return { version, response };
      const request = adaptResponse(mod.adapters, versions, newest, version, ex.request, call);
      const up = adaptRequest(mod.adapters, versions, version, newest, request, call);
      return { version, request, ...(version !== newest && !same(up, ex.request) ? { requestAsNewest: up } : {}), response };
    }),
  };
}

/**
 * `ferry upgrade-guide <id>`: the consumer-facing Markdown guide of the migration's API — what changes, the
 * field mapping, each old version's dates (resolved from the flag's first day at 100 % when `db` is given and
 * it happened; offsets otherwise), how to ask for the new version, the deprecation headers, the 410, and the
 * adapters' examples. Read-only; E_USAGE when the manifest has no `api` section.
 */
export async function upgradeGuide(db: Queryable | null, m: Migration): Promise<UpgradeGuide> {
  const api = apiOf(m);
  const releasedAt = db ? await releasedAtOf(db, m) : null;
  const mod = await loadApiModule(m, api);
  const examples = mod ? (mod.examples ?? []).map((ex, i) => exampleForVersions(api, mod, ex, i)) : null;
  const markdown = renderUpgradeGuide({
    migrationId: m.id,
    title: m.manifest.title,
    summary: m.manifest.summary,
    flag: m.manifest.flag ?? null,
    api,
    releasedAt,
    examples,
  });
  return { migrationId: m.id, api: api.name, releasedAt, module: api.module ?? null, examples: examples ?? [], markdown };
}
