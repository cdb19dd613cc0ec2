import { pathToFileURL } from 'node:url';

/*
 * Loading another tool's code migration (a node-pg-migrate or Knex module) the
 * way the tool does, with jiti, to learn at import time whether ferry will be
 * able to run it.
 */

/** The exports of a code migration, the default export's members preferred when the module has no `up` of its own. */
export type OriginalExports = Record<string, unknown>;

/** A loaded module, or why it could not be loaded. */
export type LoadedOriginal = { ok: true; exports: OriginalExports } | { ok: false; reason: string };

/** The members of a module namespace that hold the migration: its own, or its default export's (CommonJS interop). */
export function migrationExports(namespace: unknown): OriginalExports {
  const ns = (namespace ?? {}) as OriginalExports;
  if (typeof ns.up === 'function') return ns;
  const d = ns.default;
  return d !== null && typeof d === 'object' ? (d as OriginalExports) : typeof d === 'function' ? (d as unknown as OriginalExports) : ns;
}

/** Import `file` (absolute) with jiti, resolving its imports from where it is, uncached; a failure is its reason, one line. */
export async function loadOriginal(file: string): Promise<LoadedOriginal> {
  try {
    const { createJiti } = await import('jiti');
    const ns = await createJiti(pathToFileURL(file).href, { moduleCache: false, fsCache: false }).import(file);
    return { ok: true, exports: migrationExports(ns) };
  } catch (err) {
    return { ok: false, reason: firstLine(err) };
  }
}

/** Import a package (`node-pg-migrate`, `knex`) as the module at `from` would; undefined when it is not installed there. */
export async function loadPackageFrom(from: string, name: string): Promise<OriginalExports | undefined> {
  try {
    const { createJiti } = await import('jiti');
    return (await createJiti(pathToFileURL(from).href, { moduleCache: false, fsCache: false }).import(name)) as OriginalExports;
  } catch {
    return undefined;
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  return message.split('\n')[0]?.trim() || 'it does not load';
}
