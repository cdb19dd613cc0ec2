import { Marked } from 'marked';

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');

/** Links only to the web, mail, or within the page: no `javascript:` or `data:` URLs. */
const SAFE_URL = /^(https?:|mailto:|#|\/(?!\/))/i;

/**
 * Markdown → HTML for the documents ferry renders (plan, rollback plan, report): GitHub-flavoured tables,
 * raw HTML in the text shown as text (never markup), and links only to safe URLs.
 */
const markdown = new Marked({
  gfm: true,
  async: false,
  renderer: {
    html({ text }) {
      return escapeHtml(text);
    },
    link({ href, title, tokens }) {
      const text = this.parser.parseInline(tokens);
      if (!SAFE_URL.test(href)) return text;
      return `<a href="${escapeHtml(href)}"${title ? ` title="${escapeHtml(title)}"` : ''} rel="noopener noreferrer">${text}</a>`;
    },
    image({ text }) {
      return escapeHtml(text);
    },
  },
});

/** Render `source` Markdown to safe HTML (see {@link markdown}). */
export function renderMarkdown(source: string): string {
  return markdown.parse(source, { async: false });
}
