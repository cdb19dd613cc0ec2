import {
  BUILT_IN_CRITERIA,
  dataErrorsOf,
  downsBeforeRollout,
  forcedCleanup,
  incidents,
  proven,
  rollbacks,
  stageRuns,
  stepCount,
  verificationRuns,
} from './facts.js';
import { count, span, table, when } from './markdown.js';
import { timelineSection } from './plan.js';
import { successCriteriaOf } from './plan-spec.js';
import type { DocState } from './state.js';

/** Each stage of the rollout with the health evaluations recorded while it ran. */
function stagesSection(s: DocState): string[] {
  const runs = stageRuns(s);
  if (runs.length === 0) return ['_The rollout has not started._'];
  const lines = table(
    ['stage', 'from', 'to', 'held', 'planned hold', 'health'],
    runs.map((r) => {
      const during = s.health.filter((h) => h.at >= r.start && (r.end === null || h.at < r.end));
      const worst = ['red', 'yellow', 'green', 'no-data'].find((c) => during.some((h) => h.colour === c));
      return [
        `${r.percentage} %`,
        when(r.start),
        r.end ? when(r.end) : 'now',
        span(r.heldMs),
        span(r.plannedHoldMs),
        worst ? `${worst} (${during.length} evaluation${during.length === 1 ? '' : 's'})` : 'not recorded',
      ];
    }),
  );
  const early = runs.filter((r) => r.early);
  if (early.length) lines.push('', ...early.map((r) => `- ${r.percentage} %: ${r.early}`));
  if (s.health.length === 0) {
    lines.push(
      '',
      '_No health evaluations are in the log: the health controller (`ferry rollout run` / `ferry health`) records them as `health` events; stages advanced by hand have none._',
    );
  } else {
    lines.push('', '### Health matrix per evaluation', '');
    lines.push(
      ...table(
        ['at', 'stage', 'colour', 'signals'],
        s.health.map((h) => [when(h.at), h.percentage === null ? '—' : `${h.percentage} %`, h.colour, h.facts.join('; ')]),
      ),
    );
  }
  return lines;
}

/** `ferry report`: what was migrated, how it went, and the success criteria ticked from recorded facts only. */
export function renderReport(s: DocState): string {
  const m = s.migration;
  const rb = rollbacks(s.events);
  const downs = downsBeforeRollout(s.events);
  const inc = incidents(s);
  const runs = verificationRuns(s.events);
  const steps = stepCount(s);
  const forced = forcedCleanup(s.events);
  const criteria = [...BUILT_IN_CRITERIA, ...successCriteriaOf(m.manifest.plan)];
  const lines = [
    `# Migration report: ${m.manifest.title}`,
    '',
    `- **Migration:** \`${m.id}\` (${m.manifest.type}, ${m.manifest.strategy})`,
    `- **Phase:** ${s.phase ?? 'planned'} · **Environment:** ${s.env} · **Generated:** ${when(s.now)}`,
    '',
    '## What was migrated',
    '',
    m.manifest.summary,
    '',
    `${steps.applied}/${steps.total} steps applied${steps.contract ? ` (${steps.contract} of them contract steps)` : ''}.`,
    '',
    ...table(
      ['step', 'kind', 'phase', 'applied', 'by', 'took'],
      m.steps.map((st) => {
        const a = s.applied.find((x) => x.stepId === st.id);
        return [st.id, st.kind, st.phase ?? 'expand', a ? when(a.appliedAt) : 'not applied', a?.appliedBy ?? '—', a ? span(a.durationMs) : '—'];
      }),
    ),
    '',
    '## Timeline as it happened',
    '',
    ...timelineSection(s),
    '',
    ...table(
      ['at', 'from', 'to', 'by', 'why'],
      s.events.filter((e) => e.kind === 'transition').map((e) => [when(e.at), e.fromPhase ?? '—', e.toPhase ?? '—', e.actor, e.reason ?? '']),
    ),
    '',
    '## Rollout stages and health',
    '',
    ...stagesSection(s),
    '',
    '## Backfill',
    '',
    ...table(
      ['step', 'state', 'rows', 'batches', 'retries', 'rate', 'longest batch'],
      s.backfills.map((b) => [
        b.stepId,
        b.state,
        count(b.rowsDone),
        b.batches,
        b.retries,
        `${count(b.ratePerSec)} rows/s`,
        `${Math.round(b.longestBatchMs)} ms`,
      ]),
      '_no backfill_',
    ),
    '',
    '## Verification',
    '',
    ...table(
      ['check', 'kind', 'mode', 'result', 'data errors', 'at'],
      s.checks.map((c) => [c.check, c.kind, c.mode, c.ok ? 'pass' : `FAIL${c.error ? `: ${c.error}` : ''}`, c.dataErrors, when(c.finishedAt)]),
      '_no check results recorded_',
    ),
    ...(s.checksPending.length ? ['', `Declared but never run: ${s.checksPending.join(', ')}.`] : []),
    '',
    `Data errors in the latest results: ${dataErrorsOf(s)}.`,
    '',
    `### Verification runs (${runs.filter((r) => !r.ok).length} failed of ${runs.length})`,
    '',
    ...table(
      ['at', 'what', 'by', 'result', 'detail'],
      runs.map((r) => [when(r.at), r.what, r.by, r.ok ? 'pass' : 'FAIL', r.detail]),
      '_no verification run recorded_',
    ),
    '',
    '## Incidents and rollbacks',
    '',
    `${rb.length} rollback(s) during the rollout, ${inc.length} incident(s) recorded.`,
    ...(downs.length
      ? [
          '',
          `${downs.length} \`down\`(s) before the rollout started (not rollout rollbacks): ${downs.map((e) => `${when(e.at)} from ${e.fromPhase} by ${e.actor}`).join('; ')}.`,
        ]
      : []),
    '',
    ...table(
      ['at', 'what', 'by', 'detail'],
      inc.map((e) => [when(e.at), e.kind === 'transition' ? `→ ${e.toPhase}` : e.kind, e.actor, e.reason ?? '']),
      '_none_',
    ),
    '',
    '## Cleanup',
    '',
    ...table(
      ['at', 'what', 'by', 'detail'],
      s.events.filter((e) => ['backup', 'restore', 'cleanup-forced'].includes(e.kind)).map((e) => [when(e.at), e.kind, e.actor, e.reason ?? '']),
      '_no backup or cleanup recorded yet_',
    ),
    ...(forced ? ['', `**Cleanup was forced** before the deprecation period passed, by ${forced.actor} on ${when(forced.at)}: ${forced.reason ?? ''}`] : []),
    '',
    '## Success criteria',
    '',
    'A box is ticked only when ferry’s records prove it; criteria without a proof are for a person to confirm.',
    '',
    ...criteria.map((c) => {
      if (!c.proof) return `- [ ] ${c.text} _(not recorded by ferry: confirm by hand)_`;
      const p = proven(s, c.proof);
      return `- [${p.ok ? 'x' : ' '}] ${c.text} _(${p.by})_`;
    }),
    '',
  ];
  return lines.join('\n');
}
