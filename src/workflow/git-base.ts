import { execFile } from 'node:child_process';
import { sep } from 'node:path';
import { promisify } from 'node:util';
import { FerryError } from '../errors.js';

// The git a pull-request check needs: the base ref, where the project sits in the repository,
// and (in pr-check.ts) the files changed since the merge base. git runs without a shell.

const run = promisify(execFile);

/** A path with `/` between folders, as git, GitHub and SARIF write them. */
export const slashed = (path: string) => path.split(sep).join('/');

export async function git(root: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd: root, maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** The first line of what git said on stderr, for an error message. */
export function gitSaid(err: unknown): string {
  const e = err as { stderr?: string; code?: unknown; message?: string };
  if (e.code === 'ENOENT') return 'git is not installed (or not on PATH)';
  return (e.stderr ?? e.message ?? String(err)).trim().split('\n')[0] ?? '';
}

async function refExists(root: string, ref: string): Promise<boolean> {
  try {
    await git(root, ['rev-parse', '--verify', '--quiet', '--end-of-options', `${ref}^{commit}`]);
    return true;
  } catch {
    return false;
  }
}

/** The base ref to compare with: the one given, else the pull request's target branch, else main. */
export async function resolveBase(root: string, given: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const fix =
    'pass the branch to compare with as --base <ref> (e.g. --base origin/main); in CI fetch the whole history so the base branch is there (actions/checkout with fetch-depth: 0, GIT_DEPTH: 0 on GitLab)';
  const candidates = given !== undefined ? [given] : env.GITHUB_BASE_REF ? [`origin/${env.GITHUB_BASE_REF}`] : ['origin/main', 'main'];
  for (const ref of candidates) if (await refExists(root, ref)) return ref;
  const named = candidates.map((c) => `"${c}"`).join(' or ');
  throw new FerryError('E_USAGE', `no git ref ${named} to compare with in ${root}`, fix);
}

/** The project root relative to the repository's top folder, with a trailing `/` (`''` at the top); E_USAGE outside a git work tree. */
export async function projectPathIn(root: string): Promise<string> {
  try {
    return (await git(root, ['rev-parse', '--show-prefix'])).trim();
  } catch (err) {
    throw new FerryError(
      'E_USAGE',
      `ferry check compares the branch with its base in git, but ${root} is not in a git work tree (${gitSaid(err)})`,
      'run it in a clone of the repository (in CI: after actions/checkout)',
    );
  }
}
