import { table } from '../docs/markdown.js';
import { PHASES, type Phase, TRANSITIONS } from './lifecycle.js';

/**
 * What the application side needs to know in one lifecycle phase: what is live,
 * which application versions may run, what moves the migration on, and what the
 * application must have done before the next step that it would notice.
 */
export interface AppGuidance {
  /** What is live in the database (and the flag) in this phase. */
  now: string;
  /** Which application versions may run, and on which path. */
  apps: string;
  /** What moves the migration on (command or controller) and the gate it must pass; `<id>` stands for the migration. */
  nextGate: string;
  /** "before <step>: <what the application must have done>", or "—" when nothing is due. */
  before: string;
}

const BOTH_SHAPES = 'old and new shape both live (`ferry_v1_`/`ferry_v2_` views, sync triggers)';
const ROLLOUT_APPS =
  'the new version everywhere, choosing by the flag: units inside the stage on the new path, the rest on the old path; old-version instances still allowed';

/**
 * The application's path through the lifecycle, one entry per phase: the one
 * source of the lines `ferry status <id>` and `ferry rollout <id> status` print
 * and of the table in docs/lifecycle.md (a test keeps them equal).
 */
export const APP_GUIDANCE: Readonly<Record<Phase, AppGuidance>> = {
  planned: {
    now: 'nothing changed in the database',
    apps: 'the current (old) version only',
    nextGate:
      'every role of `plan.approvals` approves (`ferry approve <id> --as ROLE`); where the environment does not require approval, `ferry up <id>` expands directly',
    before: 'before up: nothing; review `ferry plan <id>` and `ferry rollback-plan <id>`',
  },
  approved: {
    now: 'approved; nothing changed in the database',
    apps: 'the current (old) version only',
    nextGate: '`ferry up <id>`: lint clean (or findings acknowledged), approvals still match the files, preflight against the live catalog',
    before: 'before up: nothing; expand only adds, so old-shape readers and writers keep working',
  },
  expanded: {
    now: `${BOTH_SHAPES}; existing rows not backfilled yet`,
    apps: 'the old version; the new version may be deployed with the flag off (it reads and writes `ferry_v2_<table>`), not relying on values of existing rows yet',
    nextGate: '`ferry backfill <id>` (or `ferry up <id>`) fills existing rows → backfilled; without a backfill step, `ferry rollout <id> set <pct>` → canary',
    before: 'before rollout: deploy the new version with the flag check (`flags.isEnabled(flag, unit)`, old path by default) and its cohort metrics',
  },
  backfilling: {
    now: `${BOTH_SHAPES}; existing rows being filled in batches`,
    apps: 'the old version; the new version deployed with the flag off',
    nextGate: 'the backfill finishes (no row left matching its `where`) → backfilled; `ferry backfill <id> --status` shows progress',
    before: 'before rollout: every instance runs the new version with the flag check',
  },
  backfilled: {
    now: `${BOTH_SHAPES}; every row filled`,
    apps: 'old and new version side by side; the new path off (flag at 0 %)',
    nextGate: '`ferry rollout <id> set <pct>` (the first stage) or `ferry rollout <id> run`, approvals still current → canary',
    before: 'before rollout: every instance runs the new version with the flag check and records its cohort metrics (`flags.observe`)',
  },
  canary: {
    now: `${BOTH_SHAPES}; flag on for the first stage's units (default 5 %)`,
    apps: ROLLOUT_APPS,
    nextGate:
      "the stage's hold elapsed with health green (`ferry rollout <id> advance`, or the controller of `ferry rollout <id> run`) → rolling; yellow pauses, red rolls back",
    before: 'before 100 %: nothing new; watch `ferry health <id>`',
  },
  rolling: {
    now: `${BOTH_SHAPES}; flag between the first stage and 100 %`,
    apps: ROLLOUT_APPS,
    nextGate: 'each stage held and green, up to 100 % → rolled-out',
    before: 'before 100 %: nothing new; watch `ferry health <id>`',
  },
  paused: {
    now: `${BOTH_SHAPES}; rollout paused (health yellow or latency red, or the flag turned off)`,
    apps: 'as during the rollout; with the flag off everyone is on the old path',
    nextGate: 'health green again under the controller, or `ferry rollout <id> resume` / `ferry rollout <id> set <pct>` → canary or rolling',
    before: 'before resuming: fix what health showed',
  },
  'rolled-out': {
    now: `${BOTH_SHAPES}; flag at 100 %: every unit on the new path`,
    apps: 'the new version, on the new path for everyone; old-shape readers and writers still work',
    nextGate: "`ferry verify <id> --full`: every step verifies and every declared check's latest result passes → verified",
    before: 'before contract: stop old-shape writers and readers (old version, jobs, reports) and move them to the new shape',
  },
  verified: {
    now: `${BOTH_SHAPES}; data verified`,
    apps: 'the new version; old-shape readers and writers allowed only until contract',
    nextGate:
      "`ferry contract <id>`: every declared check's latest result passes (a --full run at least once), health not red, no unresolved rollback; contract takes a backup first. A failing verify run moves it back to rolled-out until a passing --full run",
    before: 'before contract: stop old-shape writers and readers; nothing may use the old column or `ferry_v1_<table>`',
  },
  contracted: {
    now: 'new shape only: old columns, compat views and sync triggers dropped (point of no return); the flag graduated: on for everyone, whatever default the code passes',
    apps: 'the new version only; the flag check still answers true; `ferry flag set <flag> false` is refused',
    nextGate:
      '`ferry cleanup <id>` after the deprecation period (default 90 d from 100 %): backup, graduated flag tombstone, archive → archived; `--force --reason` skips only the deprecation period',
    before:
      'before cleanup: hard-code the new path (drop the `if` on the flag) or rely on the graduated flag; a `search_path` naming `ferry_v2_<table>` falls through to the table',
  },
  archived: {
    now: 'new shape only; folder archived; the flag a graduated tombstone',
    apps: 'the new version only; code that still asks for the flag gets true and one warning to drop the `if`',
    nextGate: 'none: archived is final',
    before: '—',
  },
  'rolled-back': {
    now: 'old shape only: the down steps ran; rows the old shape cannot hold were saved to a backup first (`down --accept-data-loss`)',
    apps: 'the old path only (flag off); a new version may stay deployed while its flag is off',
    nextGate: 'after the fix, `ferry up <id>` → expanded again',
    before: 'before up again: fix the cause; restore saved rows with `ferry restore <backup>` if they are needed',
  },
};

/** The guidance of `phase` (a migration the database has never seen is planned). */
export function guidanceFor(phase: string | null): AppGuidance & { phase: Phase } {
  const p = (PHASES as readonly string[]).includes(phase ?? '') ? (phase as Phase) : 'planned';
  return { phase: p, ...APP_GUIDANCE[p] };
}

/** `g` with `<id>` replaced by the migration's id, for a command the user can paste. */
export function guidanceOf(phase: string | null, migrationId: string): AppGuidance & { phase: Phase } {
  const g = guidanceFor(phase);
  const fill = (s: string) => s.replaceAll('<id>', migrationId);
  return { phase: g.phase, now: fill(g.now), apps: fill(g.apps), nextGate: fill(g.nextGate), before: fill(g.before) };
}

/** The two human lines of a phase's guidance: "now: …; next gate: …; before …" and "apps: …". */
export function guidanceLines(g: AppGuidance): [string, string] {
  const before = g.before === '—' ? '' : `; ${g.before}`;
  return [`now: ${g.now}; next gate: ${g.nextGate}${before}`, `apps: ${g.apps}`];
}

/** The Markdown table of every phase's guidance, in lifecycle order (docs/lifecycle.md embeds it). */
export function guidanceTable(): string {
  const rows = PHASES.map((p) => {
    const g = APP_GUIDANCE[p];
    return [`\`${p}\``, g.now, g.apps, g.nextGate, g.before];
  });
  return table(['phase', 'now', 'application versions', 'next gate', 'before the next step'], rows).join('\n');
}

/** Who or what moves a migration along one transition of the lifecycle, and the gate it must pass. */
export interface TransitionGuide {
  /** The command (or the controller) that asks for it; `<id>` stands for the migration. */
  by: string;
  /** What must hold, in words; "—" when nothing beyond the phase. */
  gate: string;
}

/** Each action of the transition table (lifecycle.ts TRANSITIONS), as docs/lifecycle.md explains it. */
export const TRANSITION_GUIDE: Readonly<Record<string, TransitionGuide>> = {
  approve: { by: '`ferry approve <id> --as ROLE`, once per role', gate: 'every role of `plan.approvals` approved the files as they are now (checksum)' },
  up: {
    by: '`ferry up <id>`',
    gate: 'approved where the environment has `requireApproval`; approvals still match the files; lint clean or acknowledged; preflight against the live catalog; no drift',
  },
  baseline: { by: '`ferry baseline <id>`', gate: 'the verify SQL passes on the live database (or `--skip-verify`)' },
  backfill: { by: '`ferry backfill <id>`, or `ferry up <id>` reaching a backfill step', gate: 'the steps before the backfill are applied' },
  backfilled: { by: 'the backfill itself', gate: 'no row left matching its `where`' },
  rollout: {
    by: '`ferry rollout <id> set <pct>`, `ferry rollout <id> run`',
    gate: 'backfilled (or expanded without a backfill step); the manifest names a `flag`; approvals still current',
  },
  promote: {
    by: '`ferry rollout <id> advance`, `ferry rollout <id> set <pct>`, the controller',
    gate: "the stage's hold elapsed (or `--now --reason`); under the controller, health green through the hold; approvals still current",
  },
  'complete-rollout': { by: 'the same, reaching 100 %', gate: 'as promote' },
  pause: { by: 'the controller on yellow (or red latency alone); `ferry flag set <flag> false` (quick rollback)', gate: '—' },
  resume: { by: '`ferry rollout <id> resume`, `ferry rollout <id> set <pct>`, the controller when green again', gate: 'approvals still current' },
  verify: {
    by: '`ferry verify <id> --full`',
    gate: "every applied step's verify SQL passes and every declared check's latest result passes, with a --full run for its current declaration",
  },
  'verify-failed': {
    by: '`ferry verify <id>` (any mode) whose run fails after verified',
    gate: '— (no contract step applied yet); a passing `ferry verify <id> --full` moves it back to verified',
  },
  contract: {
    by: '`ferry contract <id>` (or `ferry cleanup <id>`)',
    gate: "verified; every declared check's latest result passes; health not red; no unresolved rollback; contract takes a backup first; the flag graduates",
  },
  archive: {
    by: '`ferry cleanup <id>`',
    gate: 'contracted; the deprecation period since 100 % has passed (`--force --reason` skips only that); backup; the flag left as a graduated tombstone; folder archived',
  },
  rollback: {
    by: '`ferry down <id>`, or the controller on red errors or data errors',
    gate: 'not contracted (the point of no return); rows only the new shape holds are counted and saved to a backup, and down refuses without `--accept-data-loss` when there are any',
  },
};

/** The Markdown table of the lifecycle's transitions: action, from, to, who moves it and the gate (docs/lifecycle.md embeds it). */
export function transitionTable(): string {
  const rows = TRANSITIONS.map((t) => {
    const g = TRANSITION_GUIDE[t.action] ?? { by: '—', gate: '—' };
    return [t.action, t.from.map((p) => `\`${p}\``).join(', '), `\`${t.to}\``, g.by, g.gate];
  });
  return table(['action', 'from', 'to', 'moved by', 'gate'], rows).join('\n');
}
