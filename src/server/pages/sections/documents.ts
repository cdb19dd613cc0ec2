import { html, raw } from 'hono/html';
import { DOCUMENT_KINDS, type DocumentKind } from '../../../workflow/documents.js';
import type { MarkdownDocument } from '../../api/documents.js';
import { renderMarkdown } from '../markdown.js';

/** The documents the page shows, in order, with their headings. */
export const SHOWN_DOCUMENTS: readonly (readonly [DocumentKind, string])[] = [
  ['plan', 'Plan'],
  ['rollback-plan', 'Rollback plan'],
  ['report', 'Report'],
];

/** Whether `kind` names a document ferry renders. */
export const isDocumentKind = (kind: string): kind is DocumentKind => (DOCUMENT_KINDS as readonly string[]).includes(kind);

/** One document's island content: rendered from the same Markdown the CLI prints. */
export function documentSection(doc: MarkdownDocument) {
  return html`<article class="markdown" data-document="${doc.document}">${raw(renderMarkdown(doc.markdown))}</article>`;
}
