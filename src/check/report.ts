/** How much a finding of `ferry check` counts: an `error` fails the check unless it is acknowledged. */
export type CheckLevel = 'error' | 'warning';

/** One thing `ferry check` found in a pull request's migrations: where, which rule, what and how to fix it. */
export interface CheckFinding {
  /** The migration it belongs to, when it belongs to one. */
  migrationId?: string;
  /** The file, relative to the project root, with `/` between folders. */
  file: string;
  /** 1-based line in `file`. */
  line: number;
  level: CheckLevel;
  /** A lint rule's id, `manifest` (the migration does not load) or `rehearsal` (it failed on the scratch database). */
  rule: string;
  message: string;
  /** How to fix it. */
  hint?: string;
  /** An error finding the manifest acknowledges (`lint.acknowledge`): shown, but it does not fail the check. */
  acknowledged?: boolean;
}

/** One rehearsal `ferry check` ran on the scratch database. */
export interface CheckRehearsal {
  migrationId: string;
  ok: boolean;
  /** The rehearsal's one-line summary. */
  summary: string;
}

/** What `ferry check` found for the migrations a pull request adds or changes. */
export interface PrCheckReport {
  /** The git ref the branch was compared with. */
  base: string;
  /** The commit where the branch left `base` (`git merge-base`). */
  mergeBase: string;
  /** The project root relative to the git repository's top folder (`''` when they are the same), with a trailing `/`: annotations and SARIF name files from the repository's top. */
  projectPath: string;
  /** Ids (folder names) of the migrations new or changed since the merge base, in order. */
  changed: string[];
  /** The scratch database the migrations were linted against and rehearsed on, when one was given. */
  database?: { env: string; target: string };
  rehearsals: CheckRehearsal[];
  /** Changed migrations pending on the scratch database that were not rehearsed, and why. */
  notRehearsed: { migrationId: string; reason: string }[];
  /** Migrations the check applied to the scratch database: the base branch's pending ones, then each changed one whose rehearsal passed. */
  applied: string[];
  findings: CheckFinding[];
  /** False when any error finding is not acknowledged. */
  ok: boolean;
}

/** The error findings that fail the check: every error not acknowledged. */
export function failingFindings(report: Pick<PrCheckReport, 'findings'>): CheckFinding[] {
  return report.findings.filter((f) => f.level === 'error' && !f.acknowledged);
}

/** A finding's file as the repository names it (what GitHub and code scanning expect). */
export function repositoryPath(report: Pick<PrCheckReport, 'projectPath'>, f: CheckFinding): string {
  return `${report.projectPath}${f.file}`;
}
