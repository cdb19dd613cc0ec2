import type { Context } from 'hono';
import { html } from 'hono/html';
import type { ApprovalsDocument } from '../../api/live-documents.js';
import type { ServeContext, ServeEnv } from '../../context.js';
import { actionButton, signInHint } from '../layout.js';
import { when } from '../parts.js';

/** The action endpoint that approves a migration as a role. */
export const approveAction = (id: string) => `/api/v1/migrations/${encodeURIComponent(id)}/approvals`;

/** The approvals island: each role the plan requires, who approved it for the current files, stale approvals, and "approve as". */
export function approvalsSection(c: Context<ServeEnv>, ctx: ServeContext, s: ApprovalsDocument) {
  const roles = s.required;
  if (roles.length === 0) return html`<p class="muted">The plan names no approving role.</p>`;
  const given = new Map(s.approved.map((a) => [a.role, a]));
  return html`<p>${s.complete ? html`<span class="pill green">approved by every role</span>` : html`<span class="pill yellow">waiting for ${s.missing.join(', ')}</span>`}
  ${ctx.ws.conn.requireApproval ? '' : html` <span class="small muted">(environment ${ctx.ws.conn.env} does not require approval)</span>`}</p>
<table class="approvals"><thead><tr><th>role</th><th>state</th><th>by</th><th>when</th><th>why</th><th></th></tr></thead><tbody>
${roles.map((role) => {
  const a = given.get(role);
  return html`<tr data-role="${role}"><td><b>${role}</b></td><td>${a ? html`<span class="pill green">approved</span>` : html`<span class="pill grey">missing</span>`}</td>
  <td>${a?.by ?? ''}</td><td class="small">${a ? when(a.at) : ''}</td><td class="small muted">${a?.reason ?? ''}</td>
  <td>${a ? '' : html`<span class="actions inline">${actionButton(c, `approve as ${role}`, approveAction(s.migrationId), { body: { role }, input: 'reason=approve-reason', kind: 'primary' })}<span class="problem" hidden></span></span>`}</td></tr>`;
})}
</tbody></table>
${s.stale.length ? html`<p class="small c-yellow">${s.stale.length} approval${s.stale.length === 1 ? ' was' : 's were'} given before the files changed (stale): ${s.stale.map((a) => `${a.role} by ${a.by}`).join(', ')}</p>` : ''}
<div class="actions"><label class="small" for="approve-reason">reason (optional)</label><input type="text" id="approve-reason" maxlength="500"> ${signInHint(c)}<div class="problem" hidden></div></div>`;
}
