import {
  dataErrorsOf,
  downsBeforeRollout,
  forcedCleanup,
  incidents,
  lastRehearsal,
  rollbacks,
  stageRuns,
  stepCount,
  timeline,
  verificationRuns,
} from './facts.js';
import { span, table, when } from './markdown.js';
import type { DocState } from './state.js';

/** `ferry retro`: the workflow's five questions, each opened with the migration's own numbers. */
export function renderRetro(s: DocState): string {
  const m = s.migration;
  const rows = timeline(s);
  const over = rows.filter((r) => r.actualMs !== null && r.end !== null && r.actualMs > r.plannedMs);
  const rb = rollbacks(s.events);
  const inc = incidents(s);
  const runs = stageRuns(s);
  const early = runs.filter((r) => r.early);
  const rehearsal = lastRehearsal(s.events);
  const rehearsals = s.events.filter((e) => e.kind === 'rehearse').length;
  const backfilled = s.backfills.reduce((n, b) => n + b.rowsDone, 0);
  const dataErrors = dataErrorsOf(s);
  const downs = downsBeforeRollout(s.events);
  const failedRuns = verificationRuns(s.events).filter((r) => !r.ok);
  const steps = stepCount(s);
  const forced = forcedCleanup(s.events);
  const lines = [
    `# Retrospective: ${m.manifest.title}`,
    '',
    `- **Migration:** \`${m.id}\` · **Phase:** ${s.phase ?? 'planned'} · **Generated:** ${when(s.now)}`,
    '',
    '## Planned vs actual',
    '',
    ...table(
      ['phase', 'planned', 'actual', 'difference'],
      rows.map((r) => [
        r.phase,
        span(r.plannedMs),
        r.end ? span(r.actualMs) : r.start ? `${span(r.actualMs)} so far` : '—',
        r.end && r.actualMs !== null ? `${r.actualMs >= r.plannedMs ? '+' : '−'}${span(Math.abs(r.actualMs - r.plannedMs))}` : '—',
      ]),
    ),
    '',
    '## 1. What went well?',
    '',
    `- ${rows.filter((r) => r.end && r.actualMs !== null && r.actualMs <= r.plannedMs).length} of ${rows.filter((r) => r.end).length} finished phase(s) within their planned duration.`,
    `- Backfill: ${backfilled.toLocaleString('en-US')} row(s) in ${s.backfills.length} step(s)${s.backfills.some((b) => b.retries) ? `, ${s.backfills.reduce((n, b) => n + b.retries, 0)} retried batch(es)` : ', no retries'}.`,
    `- Steps: ${steps.applied}/${steps.total} applied${steps.contract ? ` (${steps.contract} contract step(s))` : ''}.`,
    `- Rehearsals: ${rehearsals}${rehearsal ? `, the last ${rehearsal.ok ? 'passed' : 'failed'} on ${when(rehearsal.at)}` : ''}.`,
    '- _(add yours)_',
    '',
    '## 2. What went wrong?',
    '',
    `- Rollbacks during the rollout: ${rb.length}${rb.length ? ` (${rb.map((e) => `${when(e.at)}: ${e.reason ?? e.kind}`).join('; ')})` : ''}.`,
    ...(downs.length
      ? [
          `- \`down\` before the rollout started (not a rollout rollback): ${downs.length} (${downs.map((e) => `${when(e.at)} from ${e.fromPhase}`).join('; ')}).`,
        ]
      : []),
    `- Failed verification runs: ${failedRuns.length}${failedRuns.length ? ` (${failedRuns.map((r) => `${when(r.at)}, ${r.what}: ${r.detail}`).join('; ')})` : ''}.`,
    `- Incidents: ${inc.length}${inc.length ? ` (${inc.map((e) => `${e.kind === 'transition' ? `→ ${e.toPhase}` : e.kind} at ${when(e.at)}`).join('; ')})` : ''}.`,
    `- Data errors in the latest verification: ${dataErrors}.`,
    '- _(add yours)_',
    '',
    '## 3. What surprised us?',
    '',
    `- Phases over plan: ${over.length ? over.map((r) => `${r.phase} (+${span((r.actualMs ?? 0) - r.plannedMs)})`).join(', ') : 'none'}.`,
    `- Cleanup forced before the deprecation period passed: ${forced ? `yes, by ${forced.actor} on ${when(forced.at)}: ${forced.reason ?? ''}` : 'no'}.`,
    `- Stages advanced before their hold elapsed: ${early.length}${early.length ? ` (${early.map((r) => `${r.percentage} %`).join(', ')})` : ''}.`,
    '- _(add yours)_',
    '',
    '## 4. What will we do differently next time?',
    '',
    over.length ? `- Plan ${over.map((r) => r.phase).join(', ')} longer, or find what slowed ${over.length === 1 ? 'it' : 'them'}.` : '- _(add yours)_',
    '',
    '## 5. What should change in the tools or the process?',
    '',
    '- _(add yours: ferry, runbooks, alerts, the migration template)_',
    '',
  ];
  return lines.join('\n');
}
