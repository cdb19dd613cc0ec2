import { join } from 'node:path';
import { type Command, Option } from 'commander';
import { FerryError } from '../../errors.js';
import {
  assessHealth,
  type ControllerWorkflow,
  controllerTargetOf,
  type Decision,
  type DecisionMatrix,
  decide,
  type MetricVerdict,
  readController,
  sourceFor,
} from '../../health/index.js';
import type { Migration } from '../../migration/loader.js';
import { parseHold, rolloutStatus } from '../../rollout/index.js';
import { dataErrors } from '../../workflow/check-store.js';
import { MIGRATION_LOCK_KEY } from '../../workflow/execute.js';
import { currentPhase, transition } from '../../workflow/lifecycle.js';
import { down } from '../../workflow/rollback.js';
import { type CommandContext, type GlobalOptions, withDatabase } from '../context.js';
import { pc } from '../output.js';

/** The workflow as the controller needs it: lifecycle, migration lock, checks' data errors and `down`. */
export function controllerWorkflow(ctx: CommandContext, m: Migration): ControllerWorkflow {
  return {
    currentPhase,
    transition,
    locked: (fn) => ctx.db.withAdvisoryLock(MIGRATION_LOCK_KEY, ctx.lockWaitMs, fn),
    dataErrors,
    rollBack: async (to) => {
      // Unattended: values only the new shape holds are saved into a rollback copy (`ferry restore` puts them back), never lost.
      const report = await down(ctx.db, ctx.migrations, m.id, {
        ...ctx.run,
        lockWaitMs: ctx.lockWaitMs,
        dataLoss: 'save',
        backupDir: join(ctx.project.root, '.ferry', 'backups'),
        ...(to === undefined ? {} : { to }),
      });
      return report.steps.map((s) => s.stepId);
    },
  };
}

const COLOUR = { green: pc.green, yellow: pc.yellow, red: pc.red, 'no-data': pc.dim } as const;

/** "GREEN", "NO DATA" … in its colour. */
export function colourLabel(c: DecisionMatrix['colour']): string {
  return COLOUR[c](c === 'no-data' ? 'NO DATA' : c.toUpperCase());
}

const pct = (f: number | null) => (f === null ? '—' : `${Number((f * 100).toFixed(3))} %`);
const ms = (n: number | null) => (n === null ? '—' : `${Number(n.toFixed(2))} ms`);
const signed = (f: number | null) => (f === null ? '—' : `${f >= 0 ? '+' : ''}${Number((f * 100).toFixed(1))} %`);

function row(v: MetricVerdict): string[] {
  switch (v.metric) {
    case 'errorRate':
      return ['error rate', pct(v.value), pct(v.baseline), pct(v.compared), `${pct(v.threshold.yellow)} / ${pct(v.threshold.red)}`];
    case 'latencyP99':
      return ['p99 latency', ms(v.value), ms(v.baseline), signed(v.compared), `${signed(v.threshold.yellow)} / ${signed(v.threshold.red)}`];
    default:
      return ['data errors', String(v.value ?? 0), '—', String(v.compared ?? 0), `${v.threshold.yellow} / ${v.threshold.red}`];
  }
}

/** The matrix as a table for people, one metric per line. */
export function matrixLines(m: DecisionMatrix): string[] {
  const head = ['metric', 'new (canary)', 'old (baseline)', 'compared', 'yellow / red'];
  const rows = m.metrics.map(row);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] as number)).join('  ');
  const traffic = (n: number | null) => (n === null ? 'n/a' : String(Math.round(n)));
  return [
    `  ${pc.dim(fmt(head))}  ${pc.dim('colour')}`,
    ...rows.map((r, i) => `  ${fmt(r)}  ${colourLabel((m.metrics[i] as MetricVerdict).colour)}`),
    pc.dim(
      `  traffic: new ${traffic(m.traffic.new.requests)}, old ${traffic(m.traffic.old.requests)} requests (at least ${m.traffic.minRequests} each to judge)${m.baselineWindow ? '; baseline from before the stage' : ''}`,
    ),
  ];
}

/** `ferry health <id>`: the decision matrix of the current stage and the decision; the exit status is the colour. */
export function registerHealthCommand(program: Command, globals: () => GlobalOptions): void {
  program
    .command('health')
    .description('the decision matrix of the current rollout stage (new cohort vs old), its colour and the decision')
    .argument('<id>', 'migration id')
    .addOption(
      new Option('--source <source>', 'metric source (default: prometheus when the manifest has health.prometheus, else sdk)').choices(['sdk', 'prometheus']),
    )
    .option('--window <duration>', "judge this long a window (default: the manifest's health.window, 5min), never before the stage began")
    .addHelpText(
      'after',
      '\nExit status: 0 green, 16 yellow, 17 red, 18 no data (too little traffic to judge).\n\nExamples:\n  ferry health split_full_name\n  ferry health split_full_name --json\n  ferry health split_full_name --source prometheus --window 10min',
    )
    .action(async (id: string, o: { source?: 'sdk' | 'prometheus'; window?: string }) => {
      const windowMs = o.window === undefined ? undefined : parseHold(o.window);
      if (o.window !== undefined && windowMs === undefined)
        throw new FerryError('E_USAGE', `--window "${o.window}" is not a duration`, 'write it like 30s, 5min or 1h');
      await withDatabase(globals(), id, 'health', async (ctx) => {
        const m = ctx.selected[0] as Migration;
        const t = controllerTargetOf(m);
        if (windowMs !== undefined) t.settings = { ...t.settings, windowMs };
        if (o.source === 'prometheus' && !t.settings.prometheus)
          throw new FerryError('E_USAGE', `migration ${m.id} has no health.prometheus`, 'add health.prometheus.url to its manifest, or use --source sdk');
        const matrix = await assessHealth(ctx.db, t, sourceFor(ctx.db, t.settings, o.source), { checkDataErrors: await dataErrors(ctx.db, m.id) });
        const s = await rolloutStatus(ctx.db, t);
        const c = await readController(ctx.db, m.id);
        const decision = decide(matrix, {
          paused: s.phase === 'paused' || c?.state === 'paused',
          holdElapsed: s.started && s.heldMs >= s.holdMs,
          acknowledged: c?.acknowledged === s.percentage,
          lastStage: s.next === null,
        });
        report(ctx, matrix, decision, s.phase);
      });
    });
}

function report(ctx: CommandContext, matrix: DecisionMatrix, decision: Decision, phase: string | null): void {
  const out = ctx.out;
  out.line(
    `${pc.bold(matrix.migrationId)}  flag ${matrix.flag} at ${matrix.percentage} % (${phase ?? 'planned'})  source ${matrix.source}  window ${(matrix.window.ms / 1000).toFixed(1)}s`,
  );
  for (const l of matrixLines(matrix)) out.line(l);
  out.line(`${colourLabel(matrix.colour)}  decision: ${pc.bold(decision.action)}${decision.down ? ' + down' : ''} — ${decision.reason}`);
  if (!['canary', 'rolling', 'paused', 'rolled-out'].includes(phase ?? ''))
    out.line(pc.dim(`  (no rollout is running: ${matrix.migrationId} is ${phase ?? 'planned'}; the decision is what the controller would do)`));
  out.result({ matrix, decision });
  if (matrix.colour === 'green') return;
  const code = matrix.colour === 'yellow' ? 'E_HEALTH_YELLOW' : matrix.colour === 'red' ? 'E_HEALTH_RED' : 'E_HEALTH_NO_DATA';
  throw new FerryError(code, `health of ${matrix.migrationId} is ${matrix.colour}: ${decision.reason}`, hintFor(matrix, decision));
}

/** The fix for a colour that is not green; it follows the decision (red on latency alone pauses, per docs/health.md). */
function hintFor(m: DecisionMatrix, decision: Decision): string {
  if (m.colour === 'no-data')
    return `send traffic through the SDK's observe()/record() (or lower health.thresholds.minRequests), then run \`ferry health ${m.migrationId}\` again`;
  if (m.colour === 'red' && decision.action === 'pause')
    return `red on p99 latency alone is degraded, not severe: \`ferry rollout ${m.migrationId} run\` pauses here and resumes by itself once green again; investigate the latency, or roll back on purpose with \`ferry flag set ${m.flag} false\``;
  if (m.colour === 'yellow')
    return `\`ferry rollout ${m.migrationId} run\` pauses here; investigate, then \`ferry rollout ${m.migrationId} resume\` to accept it`;
  return `roll back: \`ferry flag set ${m.flag} false\` (quick), then \`ferry down ${m.migrationId}\` if data is involved`;
}
