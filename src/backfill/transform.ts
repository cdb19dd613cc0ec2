import { createJiti } from 'jiti';
import { FerryError } from '../errors.js';
import type { BackfillTarget } from './types.js';

/** A backfill's TypeScript transform: one row as the driver returns it → the new values of the columns it fills. */
export type TransformFn = (row: Record<string, unknown>) => Record<string, unknown> | Promise<Record<string, unknown>>;

/** Load `transform` (or a default export of it) from the step's module with jiti, as TypeScript step modules are. */
export async function loadTransform(t: BackfillTarget): Promise<TransformFn> {
  const file = t.moduleFile ?? t.spec.module;
  try {
    if (!file) throw new Error('the step names no module');
    const mod = (await createJiti(import.meta.url, { moduleCache: false }).import(file)) as { transform?: unknown; default?: unknown };
    const fn =
      typeof mod.transform === 'function'
        ? mod.transform
        : typeof mod.default === 'function'
          ? mod.default
          : (mod.default as { transform?: unknown } | undefined)?.transform;
    if (typeof fn !== 'function') throw new Error('it exports no transform(row) function');
    return fn as TransformFn;
  } catch (err) {
    throw new FerryError(
      'E_MANIFEST',
      `backfill ${t.migrationId}/${t.stepId}: cannot load ${file ?? 'its module'}: ${(err as Error).message}`,
      'export function transform(row) returning the new column values, e.g. { first_name: row.full_name.split(" ")[0] }',
    );
  }
}
