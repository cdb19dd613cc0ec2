import type { Database } from '../db/database.js';
import { renderPlan } from '../docs/plan.js';
import { renderReport } from '../docs/report.js';
import { renderRetro } from '../docs/retro.js';
import { renderRollbackPlan } from '../docs/rollback-plan.js';
import type { DocState } from '../docs/state.js';
import type { Migration } from '../migration/loader.js';
import { loadDocState } from './doc-state.js';

// `ferry plan`, `rollback-plan`, `report` and `retro`: Markdown documents rendered from the manifest, the live
// database and the recorded state. Nothing is written.

/** The documents ferry renders for a migration. */
export const DOCUMENT_KINDS = ['plan', 'rollback-plan', 'report', 'retro'] as const;
/** One of {@link DOCUMENT_KINDS}. */
export type DocumentKind = (typeof DOCUMENT_KINDS)[number];

interface DocumentSpec {
  render: (s: DocState) => string;
  /** Whether the document shows the live data volume (row counts and sizes). */
  measure: boolean;
  /** Whether it shows the rows `down` would lose (values the old shape cannot regenerate). */
  countLoss: boolean;
}

const DOCUMENTS: Record<DocumentKind, DocumentSpec> = {
  plan: { render: renderPlan, measure: true, countLoss: false },
  'rollback-plan': { render: renderRollbackPlan, measure: false, countLoss: true },
  report: { render: renderReport, measure: false, countLoss: false },
  retro: { render: renderRetro, measure: false, countLoss: false },
};

/** A rendered document: what `ferry <kind> <id> --json` prints. */
export interface RenderedDocument {
  migrationId: string;
  document: DocumentKind;
  markdown: string;
}

/** Render document `kind` of `m` (archived ones too) from `db`; `env` names the environment in the text, `migrations` are the project's. */
export async function renderDocument(
  db: Database,
  m: Migration,
  kind: DocumentKind,
  opts: { env: string; migrations: readonly Migration[] },
): Promise<RenderedDocument> {
  const d = DOCUMENTS[kind];
  const state = await loadDocState(db, m, { env: opts.env, measure: d.measure, countLoss: d.countLoss, migrations: [...opts.migrations] });
  return { migrationId: m.id, document: kind, markdown: d.render(state) };
}
