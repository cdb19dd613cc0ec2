import { timeline } from './facts.js';
import { bytes, count, span, table, when } from './markdown.js';
import { successCriteriaOf } from './plan-spec.js';
import type { DocState } from './state.js';

/** The data volume lines: every table the steps touch with its rows and size, measured in the live database. */
export function volumeSection(s: DocState): string[] {
  const present = s.volumes.filter((v) => v.exists);
  const absent = s.volumes.filter((v) => !v.exists);
  const rows = present.map((v) => [`\`${v.table}\``, `${v.estimated ? '≈ ' : ''}${count(v.rows)}`, bytes(v.bytes), v.steps.join(', ')]);
  const total = present.reduce((n, v) => n + v.rows, 0);
  const lines = [
    `Measured in environment \`${s.env}\` (${s.driver}) at ${when(s.now)}.`,
    '',
    ...table(['table', 'rows', 'size', 'steps'], rows, '_no existing table is touched_'),
  ];
  if (present.length > 1) lines.push('', `Total: ${count(total)} rows, ${bytes(present.reduce((n, v) => n + v.bytes, 0))}.`);
  if (absent.length) lines.push('', `Not (yet) tables in this database: ${absent.map((v) => `\`${v.table}\``).join(', ')}.`);
  return lines;
}

/** The timeline table: planned duration of each workflow phase, and its actual start and end from the event log. */
export function timelineSection(s: DocState): string[] {
  return table(
    ['phase', 'planned', 'started', 'ended', 'actual'],
    timeline(s).map((r) => [r.phase, span(r.plannedMs), when(r.start), r.end ? when(r.end) : r.start ? 'in progress' : '—', span(r.actualMs)]),
  );
}

/** The linter's view of the change: its inferred type and risk, and a warning when the manifest declares another type. */
function classificationLines(s: DocState): string[] {
  const c = s.classification;
  const head = `**Type and risk from the SQL (\`ferry lint\`):** inferred ${c.inferred}, risk ${c.risk}.`;
  const warning =
    c.matchesDeclared === false
      ? [`> **Warning:** the manifest declares ${c.declared}, but the statements look like ${c.inferred}; fix the type or the SQL before approval.`]
      : [];
  return [head, ...warning, ...c.reasons.map((r) => `- ${r}`)];
}

/** Whether the pending steps fit the live catalog: the problems `ferry up` would refuse, or that all operations fit. */
export function fitSection(s: DocState): string[] {
  const problems = s.preflight;
  if (problems === undefined) return [];
  const body = problems.length
    ? [
        `${problems.length} problem${problems.length === 1 ? '' : 's'} found checking the pending steps against environment \`${s.env}\`; \`ferry up\` refuses the migration until they are fixed:`,
        '',
        ...problems.map((p) => `- ${p}`),
      ]
    : [
        `All operations fit the database: checked against environment \`${s.env}\`, every table and column the pending steps use is there (or made by an earlier step), and no new one is taken.`,
      ];
  return ['### Fit with the database', '', ...body, ''];
}

/** `ferry plan`: the migration's plan as Markdown, from its manifest, the live database and the event log. */
export function renderPlan(s: DocState): string {
  const m = s.migration;
  const plan = m.manifest.plan;
  const lines: string[] = [
    `# Migration plan: ${m.manifest.title}`,
    '',
    `- **Migration:** \`${m.id}\``,
    `- **Type:** ${m.manifest.type} · **Strategy:** ${m.manifest.strategy}`,
    `- **Phase:** ${s.phase ?? 'planned (not registered in this database yet)'}`,
    `- **Checksum:** \`${m.checksum.slice(0, 12)}\``,
    '',
    '## Summary',
    '',
    m.manifest.summary,
    '',
    '## Scope',
    '',
    `- **Systems affected:** ${plan.scope.systems.length ? plan.scope.systems.join(', ') : '_not stated_'}`,
    `- **Users affected:** ${plan.scope.users || '_not stated_'}`,
    '',
    '### Data volume',
    '',
    ...volumeSection(s),
    '',
    '### Steps and the locks they take',
    '',
    ...table(
      ['step', 'kind', 'phase', 'description'],
      m.steps.map((st) => [st.id, st.kind, st.phase ?? 'expand', st.description ?? '']),
    ),
    '',
    ...table(
      ['step', 'relation', 'lock', 'blocks'],
      s.locks.map((l) => [l.stepId, `\`${l.relation}\``, l.mode, l.blocks]),
      '_no table-level locks found in the statements_',
    ),
    '',
    ...fitSection(s),
    '## Strategy',
    '',
    `${m.manifest.strategy}${m.manifest.flag ? `, behind flag \`${m.manifest.flag}\`` : ''}; rollout stages: ${s.stages.map((st) => `${st.percent} % (${span(st.holdMs)})`).join(' → ')}.`,
    `Point of no return: ${m.manifest.pointOfNoReturn ? `step \`${m.manifest.pointOfNoReturn}\`` : m.steps.some((x) => x.phase === 'contract') ? 'the contract steps (`ferry cleanup`)' : 'none declared'}.`,
    '',
    '## Timeline',
    '',
    ...timelineSection(s),
    '',
    '## Risks',
    '',
    ...classificationLines(s),
    '',
    ...table(
      ['risk', 'likelihood', 'impact', 'mitigation'],
      plan.risks.map((r) => [r.risk, r.likelihood, r.impact, r.mitigation]),
      '_no risks listed in the plan_',
    ),
    '',
    '## Success criteria',
    '',
    ...successCriteriaOf(plan).map((c) => `- ${c.text}${c.proof ? ` _(proved by: ${c.proof})_` : ''}`),
    ...(plan.successCriteria.length === 0 ? ['_none listed in the plan; the report also checks ferry’s built-in criteria_'] : []),
    '',
    '## Rollback criteria',
    '',
    `- the decision matrix turns red: error rate above ${s.thresholds.errorRate.red * 100} %, p99 latency above baseline + ${s.thresholds.latencyP99Increase.red * 100} %, more than ${s.thresholds.dataErrors.red} data errors`,
    ...plan.rollbackCriteria.map((c) => `- ${c}`),
    '',
    '## Approvals',
    '',
    ...table(
      ['role', 'approved by', 'at'],
      s.approvals.required.map((role) => {
        const a = s.approvals.approved.find((x) => x.role === role);
        return [role, a ? a.by : '_pending_', a ? when(a.at) : '—'];
      }),
    ),
    '',
    s.approvals.stale.length
      ? `${s.approvals.stale.length} earlier approval(s) were given for another version of the migration and no longer count.`
      : 'Approvals count for this checksum only; editing the migration voids them.',
    '',
    `Deprecation period before cleanup: ${plan.deprecationPeriod}.`,
    '',
  ];
  return lines.join('\n');
}
