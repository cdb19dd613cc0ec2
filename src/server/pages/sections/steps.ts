import { html } from 'hono/html';
import type { MigrationDocument } from '../../api/documents.js';
import { span, when } from '../parts.js';

type StepDetail = MigrationDocument['steps'][number];
type Script = NonNullable<StepDetail['forward']>;

/** Red for locks that block reads, yellow for those that block writes, green for the rest. */
const lockColour = (mode: string) =>
  /AccessExclusive/i.test(mode) ? 'red' : /Exclusive|Share(?!Update)/i.test(mode) && !/^RowExclusive/i.test(mode) ? 'yellow' : 'green';

function script(label: string, s: Script | null, open = false) {
  if (s === null) return html`<details><summary>${label}</summary><p class="muted small">none</p></details>`;
  return html`<details${open ? ' open' : ''}><summary>${label} <span class="mono small">${s.file}</span></summary><pre><code>${s.text}</code></pre></details>`;
}

function locks(step: StepDetail) {
  if (step.locks.length === 0) return html`<p class="small muted">locks: none on existing tables</p>`;
  return html`<table class="locks"><thead><tr><th>lock</th><th>on</th><th>blocks</th><th>taken by</th></tr></thead><tbody>${step.locks.map(
    (l) =>
      html`<tr><td><span class="pill ${lockColour(l.mode)}">${l.mode}</span></td><td class="mono">${l.relation}</td><td>${l.blocks}</td><td class="small muted">${l.why}</td></tr>`,
  )}</tbody></table>`;
}

/** Every step with its SQL, rollback and verify, whether it is applied, the locks it takes and the linter's findings. */
export function stepsSection(doc: MigrationDocument) {
  const noReturn = doc.status.pointOfNoReturn;
  return html`${doc.steps.map(
    (step) => html`<article class="step" id="step-${step.id}">
  <header>
    <b class="mono">${step.index + 1}. ${step.id}</b>
    <span class="pill blue">${step.kind}</span>
    <span class="pill ${step.phase === 'contract' ? 'yellow' : 'grey'}">${step.phase}</span>
    ${step.irreversible ? html`<span class="pill red">irreversible</span>` : ''}
    ${noReturn === step.id ? html`<span class="pill red">point of no return</span>` : ''}
    ${
      step.applied
        ? html`<span class="pill green">applied${step.appliedAt ? ` ${when(step.appliedAt)}` : ''}${step.appliedBy ? ` by ${step.appliedBy}` : ''}${step.durationMs === null ? '' : ` in ${span(step.durationMs)}`}</span>`
        : html`<span class="pill grey">pending</span>`
    }
  </header>
  ${step.description ? html`<p class="muted">${step.description}</p>` : ''}
  ${step.operation ? html`<p class="small muted">operation <span class="mono">${step.operation.op}</span> (${step.operation.part})</p>` : ''}
  ${step.backfill ? html`<p class="small muted">fills <span class="mono">${step.backfill.table}</span> in keyset batches where <code>${step.backfill.where}</code></p>` : ''}
  ${locks(step)}
  ${step.findings.length ? html`<ul class="small">${step.findings.map((f) => html`<li><span class="pill ${f.severity === 'error' ? 'red' : 'yellow'}">${f.rule}</span> ${f.message} <span class="muted">(${f.status})</span></li>`)}</ul>` : ''}
  ${script('forward', step.forward, (step.forward?.text.length ?? 0) < 400)}
  ${script('rollback', step.rollback)}
  ${script('verify', step.verify)}
</article>`,
  )}`;
}
