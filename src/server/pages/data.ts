import { FerryError } from '../../errors.js';
import type { OverviewDocument } from '../api/documents.js';

// The pages render the documents of the JSON API (api/documents.ts, api/live-documents.ts): what a page
// shows is what `GET /api/v1/…` answers, so the two cannot disagree. This module names the parts they use.

/** One row of the overview document. */
export type OverviewRow = OverviewDocument['migrations'][number];
/** The eight workflow steps of a row, with the current one. */
export type Ladder = OverviewRow['ladder'];

/**
 * Run `fn`; when ferry refuses it (a migration without a flag has no health, one without a backfill step no
 * backfill …), the refusal's message instead of the document. Anything else is a bug and propagates.
 */
export async function orRefusal<T>(fn: () => Promise<T>): Promise<{ doc: T; error: null } | { doc: null; error: string }> {
  try {
    return { doc: await fn(), error: null };
  } catch (err) {
    if (!(err instanceof FerryError)) throw err;
    return { doc: null, error: err.hint ? `${err.message} (${err.hint})` : err.message };
  }
}
