import { lastRehearsal } from './facts.js';
import { count, pct, table, when } from './markdown.js';
import type { DocState } from './state.js';

const lossName = (l: { table: string; column?: string | undefined }) => (l.column === undefined ? `table \`${l.table}\`` : `\`${l.table}.${l.column}\``);

/** The exact commands of the full tier: restore the latest backup of whole tables, or take one first. */
function restoreCommands(s: DocState, envFlag: string, contracted: boolean): string[] {
  const latest = s.backups.filter((b) => b.purpose !== 'rollback').at(-1);
  const saved = s.backups.filter((b) => b.purpose === 'rollback');
  const values = saved.length
    ? [
        '',
        'Values `down --accept-data-loss` saved before dropping them (put back with `ferry restore <id>` once `ferry up` has re-added their column or table):',
        '',
        ...saved.map((b) => `- \`${b.id}\` (${when(b.createdAt)}): ${b.objects.map((o) => `${lossName(o)} ${count(o.rows)} rows`).join(', ')}`),
      ]
    : [];
  if (!latest) {
    return contracted
      ? ['No backup of the tables is recorded, so there is nothing ferry can restore; restore from your own database backups.', ...values]
      : [
          'No backup has been taken yet. Take one now, while the old shape still exists:',
          '',
          '```sh',
          `ferry backup ${s.migration.id}${envFlag}`,
          '```',
          ...values,
        ];
  }
  return [
    `Latest backup \`${latest.id}\` (${latest.method}, ${when(latest.createdAt)}, by ${latest.createdBy}): ${latest.objects.map((o) => `\`${o.table}\` ${count(o.rows)} rows`).join(', ')}.`,
    '',
    '```sh',
    `ferry restore ${latest.id}${envFlag}            # refuses if the tables still exist`,
    `ferry restore ${latest.id} --replace${envFlag}  # replaces them with the backed-up copy`,
    '```',
    ...values,
  ];
}

/** What a full `down` would lose now, and what that means for the command. */
function lossLines(s: DocState, envFlag: string): string[] {
  const loss = s.rollbackLoss;
  if (loss === undefined)
    return ['', `_Not counted: the rows \`down\` would lose could not be counted now; \`ferry down ${s.migration.id} --dry-run${envFlag}\` counts them._`];
  if (loss.length === 0) return ['', `Rolling back now loses no value the old shape cannot regenerate (counted ${when(s.now)}).`];
  return [
    '',
    `**Data loss:** rolling back now drops values the old shape cannot regenerate (counted ${when(s.now)}):`,
    '',
    ...table(
      ['step', 'drops', 'rows with such values'],
      loss.map((l) => [l.stepId, lossName(l), count(l.rows)]),
    ),
    '',
    `\`ferry down\` refuses these (exit 19) unless \`--accept-data-loss\`, which first saves them into a backup; after \`ferry up\`, \`ferry restore <backup-id>${envFlag}\` puts them back.`,
  ];
}

/** The plan of a contracted or archived migration: only what is still possible, and why. */
function contractedPlan(s: DocState, envFlag: string): string[] {
  const m = s.migration;
  const crossed = s.events.filter((e) => e.toPhase === 'contracted').at(-1);
  return [
    `## Only the full rollback remains`,
    '',
    `The migration is ${s.phase}: its contract steps removed the old shape${crossed ? ` on ${when(crossed.at)}` : ''}, so the point of no return is passed.`,
    '',
    m.manifest.flag
      ? `- **No quick rollback:** the flag \`${m.manifest.flag}\` graduated at contract; turning it off would send every request to the old shape, which no longer exists.`
      : '- **No quick rollback:** this migration has no flag, and the old shape no longer exists.',
    '- **No standard rollback:** `ferry down` cannot undo the contract steps, and the steps before them depend on what they removed.',
    '',
    '## Full rollback (< 2 h): restore from backup',
    '',
    ...restoreCommands(s, envFlag, true),
    '',
    'Restore when the data is wrong and cannot be repaired forward; rows written since the backup are lost unless you carry them over.',
    '',
  ];
}

/** `ferry rollback-plan`: the three tiers with their exact commands, the point of no return, the decision criteria and the last rehearsal. */
export function renderRollbackPlan(s: DocState): string {
  const m = s.migration;
  const envFlag = s.env ? ` --env ${s.env}` : '';
  const contracted = s.phase === 'contracted' || s.phase === 'archived';
  const applied = new Set(s.applied.map((a) => a.stepId));
  const ponr = m.manifest.pointOfNoReturn;
  const ponrStep = ponr ? m.steps.find((x) => x.id === ponr) : undefined;
  const ponrApplied = ponrStep !== undefined && applied.has(ponrStep.id);
  const undoable = (x: (typeof m.steps)[number]) => x.phase !== 'contract' && (!ponrApplied || x.index > (ponrStep?.index ?? -1));
  const downSteps = m.steps.filter((x) => undoable(x) && applied.has(x.id)).reverse();
  const listed = downSteps.length || ponrApplied ? downSteps : m.steps.filter((x) => x.phase !== 'contract').reverse();
  const contractSteps = m.steps.filter((x) => x.phase === 'contract');
  const t = s.thresholds;
  const rehearsal = lastRehearsal(s.events);
  const to = ponrApplied ? ` --to ${ponr}` : '';
  const header = [
    `# Rollback plan: ${m.manifest.title}`,
    '',
    `- **Migration:** \`${m.id}\` · **Phase:** ${s.phase ?? 'planned'} · **Environment:** ${s.env}`,
    `- **Generated:** ${when(s.now)}`,
    '',
  ];
  if (contracted) return [...header, ...contractedPlan(s, envFlag)].join('\n');
  const lines = [
    ...header,
    '## 1. Quick rollback (< 5 min): flag off',
    '',
    m.manifest.flag
      ? `Everyone goes back to the old path at once; the schema and data stay as they are.`
      : '_This migration has no flag, so there is no quick rollback; use the standard rollback._',
    ...(m.manifest.flag ? ['', '```sh', `ferry flag set ${m.manifest.flag} false --reason "<why>"${envFlag}`, '```'] : []),
    '',
    '## 2. Standard rollback (< 30 min): the down steps',
    '',
    ponrApplied
      ? `Step \`${ponr}\` (the point of no return) is applied: only the steps after it can be undone, last first${downSteps.length ? '' : ' (none is applied)'}:`
      : `Undo the applied steps, last first${downSteps.length ? '' : ' (none is applied yet; this is the order once they are)'}:`,
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
    ...lossLines(s, envFlag),
    '',
    '```sh',
    `ferry down ${m.id}${to} --dry-run${envFlag}   # see the SQL, rows, locks and data loss first`,
    `ferry down ${m.id}${to}${envFlag}`,
    ...(s.rollbackLoss?.length ? [`ferry down ${m.id}${to} --accept-data-loss${envFlag}   # saves the values above first, then drops them`] : []),
    '```',
    '',
    '## 3. Full rollback (< 2 h): restore from backup',
    '',
    ...restoreCommands(s, envFlag, false),
    '',
    '## Point of no return',
    '',
    contractSteps.length
      ? `The contract steps (${contractSteps.map((x) => `\`${x.id}\``).join(', ')}) remove the old shape for good: after \`ferry cleanup\` runs them, \`ferry down\` cannot bring it back and only the full rollback (restore) can.`
      : 'This migration has no contract steps.',
    ponr
      ? `The manifest also names step \`${ponr}\`: once it is applied, \`down\` stops before it, because undoing it would lose data.`
      : 'The manifest names no other point of no return.',
    `Current phase: ${s.phase ?? 'planned'}.`,
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
