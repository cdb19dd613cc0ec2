import type { Context } from 'hono';
import { html } from 'hono/html';
import type { HtmlEscapedString } from 'hono/utils/html';
import type { ServeEnv } from '../context.js';

/** What {@link layout} puts around a page's body. */
export interface PageShell {
  title: string;
  /** The page's main content. */
  body: HtmlEscapedString | Promise<HtmlEscapedString>;
  /** Breadcrumb links after "ferry": [label, href]. */
  crumbs?: readonly (readonly [string, string])[];
}

/** htmx's settings: no inline indicator styles and no eval (the CSP forbids both). */
const HTMX_CONFIG = '{"includeIndicatorStyles":false,"allowEval":false,"historyCacheSize":0}';

/**
 * A whole HTML page: head with the packaged assets only (no CDN, no inline script or style),
 * the header with the environment and who is signed in, then `body`.
 */
export function layout(c: Context<ServeEnv>, shell: PageShell) {
  const ctx = c.get('ctx');
  const actor = c.get('actor');
  const crumbs = shell.crumbs ?? [];
  return c.html(html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="htmx-config" content="${HTMX_CONFIG}">
<title>${shell.title} · ferry</title>
<link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/uPlot.min.css">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/htmx.min.js" defer></script>
<script src="/assets/uPlot.iife.min.js" defer></script>
<script src="/assets/app.js" defer></script>
</head>
<body data-signed-in="${actor === null ? 'false' : 'true'}">
<header class="top">
  <nav class="crumbs"><a class="brand" href="/"><img src="/assets/favicon.svg" alt="" width="22" height="22"> ferry</a>${crumbs.map(([label, href]) => html`<span class="sep">/</span><a href="${href}">${label}</a>`)}</nav>
  <div class="who">
    <span class="env" title="environment">${ctx.ws.conn.env}</span>
    <span class="live" id="live-state" title="live updates">live</span>
    ${
      actor === null
        ? html`<a class="button small" href="/signin">sign in to act</a>`
        : html`<span class="actor">signed in as <b>${actor}</b></span> <button type="button" class="small ghost" data-signout>sign out</button>`
    }
  </div>
</header>
<main>
${shell.body}
</main>
<div id="toast" class="toast" role="status" aria-live="polite" hidden></div>
</body>
</html>`);
}

/** A button that POSTs `body` as JSON to `path`; disabled with "sign in to act" when nobody is signed in. */
export function actionButton(
  c: Context<ServeEnv>,
  label: string,
  path: string,
  opts: { body?: unknown; kind?: 'danger' | 'primary' | 'plain'; confirm?: string; input?: string; id?: string } = {},
) {
  const signedIn = c.get('actor') !== null;
  return html`<button type="button" class="action ${opts.kind ?? 'plain'}" data-action="${path}" data-body="${JSON.stringify(opts.body ?? {})}"${
    opts.confirm ? html` data-confirm="${opts.confirm}"` : ''
  }${opts.input ? html` data-input="${opts.input}"` : ''}${opts.id ? html` id="${opts.id}"` : ''}${
    signedIn ? '' : html` disabled title="sign in to act"`
  }>${label}</button>`;
}

/** "sign in to act" beside a group of disabled buttons. */
export function signInHint(c: Context<ServeEnv>) {
  return c.get('actor') === null ? html`<span class="hint"><a href="/signin">sign in to act</a></span>` : '';
}

/**
 * A live island: refetches `src` when ferry's state changes in one of `topics` (state tables such as `events`,
 * `flags`, `backfills`; `*` for any) — the page script dispatches `ferry:refresh` on it for each matching change.
 */
export function island(id: string, src: string, topics: readonly string[], content: HtmlEscapedString | Promise<HtmlEscapedString>) {
  return html`<div id="${id}" class="island" data-topics="${topics.join(' ')}" hx-get="${src}" hx-trigger="ferry:refresh" hx-swap="innerHTML" hx-sync="this:replace">${content}</div>`;
}
