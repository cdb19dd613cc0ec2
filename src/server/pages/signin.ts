import type { Context } from 'hono';
import { html } from 'hono/html';
import type { ServeEnv } from '../context.js';

/** The sign-in form: the token ferry serve printed and a name for the event log; the page script posts it as JSON. */
export function signInBody(c: Context<ServeEnv>) {
  const actor = c.get('actor');
  return html`<div class="card signin">
  <h1>Sign in</h1>
  ${actor !== null ? html`<p class="pill green">signed in as ${actor}</p>` : ''}
  <p class="muted">Without signing in the dashboard is read-only. Give the token <code>ferry serve</code> printed when it started
  (or <code>FERRY_SERVE_TOKEN</code>) and your name: every action you take is logged under it.</p>
  <form id="signin-form" method="post" action="/api/v1/session" autocomplete="off">
    <label for="token">token</label>
    <input id="token" name="token" type="password" required autofocus>
    <label for="name">your name</label>
    <input id="name" name="name" type="text" maxlength="100" placeholder="${c.get('ctx').ws.actor}">
    <button type="submit" class="primary">sign in</button>
    <div class="problem" id="signin-problem" hidden></div>
  </form>
</div>`;
}
