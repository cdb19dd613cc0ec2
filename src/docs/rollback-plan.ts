import { lastRehearsal } from './facts.js';
import { count, pct, table, when } from './markdown.js';
import type { DocState } from './state.js';

/** The exact commands of the full tier: restore the latest backup, or take one first. */
function restoreCommands(s: DocState, envFlag: string): string[] {
  const latest = s.backups.at(-1);
  if (!latest) {
    return ['No backup has been taken yet. Take one now, while the old shape still exists:', '', '```sh', `ferry backup ${s.migration.id}${envFlag}`, '```'];
  }
  return [
    `Latest backup \`${latest.id}\` (${latest.method}, ${when(latest.createdAt)}, by ${latest.createdBy}): ${latest.objects.map((o) => `\`${o.table}\` ${count(o.rows)} rows`).join(', ')}.`,
    '',
    '```sh',
    `ferry restore ${latest.id}${envFlag}            # refuses if the tables still exist`,
    `ferry restore ${latest.id} --replace${envFlag}  # replaces them with the backed-up copy`,
    '```',
  ];
}

/** `ferry rollback-plan`: the three tiers with their exact commands, the point of no return, the decision criteria and the last rehearsal. */
export function renderRollbackPlan(s: DocState): string {
  const m = s.migration;
  const envFlag = s.env ? ` --env ${s.env}` : '';
  const applied = new Set(s.applied.map((a) => a.stepId));
  const downSteps = m.steps.filter((x) => x.phase !== 'contract' && applied.has(x.id)).reverse();
  const listed = downSteps.length ? downSteps : m.steps.filter((x) => x.phase !== 'contract').reverse();
  const contractSteps = m.steps.filter((x) => x.phase === 'contract');
  const t = s.thresholds;
  const rehearsal = lastRehearsal(s.events);
  const ponr = m.manifest.pointOfNoReturn;
  const lines = [
    `# Rollback plan: ${m.manifest.title}`,
    '',
    `- **Migration:** \`${m.id}\` · **Phase:** ${s.phase ?? 'planned'} · **Environment:** ${s.env}`,
    `- **Generated:** ${when(s.now)}`,
    '',
    '## 1. Quick rollback (< 5 min): flag off',
    '',
    m.manifest.flag
      ? `Everyone goes back to the old path at once; the schema and data stay as they are.`
      : '_This migration has no flag, so there is no quick rollback; use the standard rollback._',
    ...(m.manifest.flag ? ['', '```sh', `ferry flag set ${m.manifest.flag} false --reason "<why>"${envFlag}`, '```'] : []),
    '',
    '## 2. Standard rollback (< 30 min): the down steps',
    '',
    `Undo the applied steps, last first${downSteps.length ? '' : ' (none is applied yet; this is the order once they are)'}:`,
    '',
    ...table(
      ['order', 'step', 'kind', 'undo'],
      listed.map((x, i) => [
        i + 1,
        x.id,
        x.kind,
        x.irreversible
          ? '**irreversible**'
          : x.kind === 'backfill'
            ? 'restore the old values'
            : (x.rollback?.statements.map((st) => st.text.split('\n')[0]).join('; ') ?? '—'),
      ]),
    ),
    '',
    '```sh',
    `ferry down ${m.id} --dry-run${envFlag}   # see the SQL, rows and locks first`,
    `ferry down ${m.id}${envFlag}`,
    '```',
    '',
    '## 3. Full rollback (< 2 h): restore from backup',
    '',
    ...restoreCommands(s, envFlag),
    '',
    '## Point of no return',
    '',
    contractSteps.length
      ? `The contract steps (${contractSteps.map((x) => `\`${x.id}\``).join(', ')}) remove the old shape for good: after \`ferry cleanup\` runs them, \`ferry down\` cannot bring it back and only the full rollback (restore) can.`
      : 'This migration has no contract steps.',
    ponr
      ? `The manifest also names step \`${ponr}\`: once it is applied, \`down\` stops before it, because undoing it would lose data.`
      : 'The manifest names no other point of no return.',
    `Current phase: ${s.phase ?? 'planned'}${s.phase === 'contracted' || s.phase === 'archived' ? ' — **the point of no return is passed; only the full rollback remains**' : ''}.`,
    '',
    '## Decision criteria',
    '',
    'From the health decision matrix (green promotes, yellow pauses, red rolls back):',
    '',
    ...table(
      ['signal', 'green', 'yellow (pause)', 'red (roll back)'],
      [
        ['error rate', `< ${pct(t.errorRate.yellow)}`, `${pct(t.errorRate.yellow)} – ${pct(t.errorRate.red)}`, `> ${pct(t.errorRate.red)}`],
        [
          'p99 latency vs baseline',
          `< +${pct(t.latencyP99Increase.yellow)}`,
          `+${pct(t.latencyP99Increase.yellow)} – +${pct(t.latencyP99Increase.red)}`,
          `> +${pct(t.latencyP99Increase.red)}`,
        ],
        ['data errors', '0', `${t.dataErrors.yellow} – ${t.dataErrors.red}`, `> ${t.dataErrors.red}`],
      ],
    ),
    '',
    'Red during the rollout: quick rollback first; if data is wrong, the standard rollback; after cleanup, the full rollback.',
    ...m.manifest.plan.rollbackCriteria.map((c) => `- also roll back when: ${c}`),
    '',
    '## Last rehearsal',
    '',
    rehearsal
      ? `${rehearsal.ok ? '**passed**' : '**FAILED**'} on ${when(rehearsal.at)}: ${rehearsal.reason}${rehearsal.copy ? ` (${rehearsal.copy})` : ''}.`
      : `_Never rehearsed._ Run \`ferry rehearse ${m.id}${envFlag}\` to prove the standard rollback on a copy.`,
    '',
  ];
  return lines.join('\n');
}
