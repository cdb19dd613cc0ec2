/**
 * The one set of rules for migration names and ids, used by `ferry new`, the
 * loader (folder names under migrations/) and every id argument, so a folder
 * ferry loads is always one `ferry new` could have written.
 */

/** Longest migration name in bytes (PostgreSQL's identifier limit, NAMEDATALEN - 1: the flag and names derived from it must fit). */
export const MIGRATION_NAME_MAX_BYTES = 63;

/** Most digits of an id's ordering prefix (`ferry new` writes a 14-digit UTC timestamp, YYYYMMDDHHMMSS). */
export const MIGRATION_PREFIX_MAX_DIGITS = 14;

const NAME = /^[a-z0-9][a-z0-9_-]*$/;
const ID = new RegExp(`^\\d{1,${MIGRATION_PREFIX_MAX_DIGITS}}_(.*)$`);

/** The name rule in words, for error hints. */
export const MIGRATION_NAME_RULE = `a migration name is lowercase letters, digits, "-" and "_", starting with a letter or digit, at most ${MIGRATION_NAME_MAX_BYTES} bytes (e.g. split_full_name)`;

/** The id rule in words, for error hints. */
export const MIGRATION_ID_RULE = `a migration id is 1 to ${MIGRATION_PREFIX_MAX_DIGITS} digits (ferry new writes a UTC timestamp), "_" and a name; ${MIGRATION_NAME_RULE}`;

const show = (s: string) => JSON.stringify(s);

/** What is wrong with a migration name (the part after the timestamp), or undefined when it is valid. */
export function migrationNameProblem(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes > MIGRATION_NAME_MAX_BYTES) return `${show(name)} is ${bytes} bytes long; a migration name is at most ${MIGRATION_NAME_MAX_BYTES} bytes`;
  if (name === '') return 'the name is empty';
  if (NAME.test(name)) return undefined;
  const bad = [...name].find((c) => !/[a-z0-9_-]/.test(c));
  const why = bad === undefined ? 'it must start with a lowercase letter or digit' : `${show(bad)} is not allowed`;
  return `${show(name)} is not a valid migration name (${why})`;
}

/** What is wrong with a migration id (a folder name under migrations/), or undefined when it is valid. */
export function migrationIdProblem(id: string): string | undefined {
  const m = ID.exec(id);
  if (!m) return `${show(id)} is not a migration id: it must start with 1 to ${MIGRATION_PREFIX_MAX_DIGITS} digits and "_"`;
  const problem = migrationNameProblem(m[1] as string);
  return problem === undefined ? undefined : `${show(id)} is not a migration id: ${problem}`;
}

/** Whether `text` can name a migration on the command line: a whole id, or the name without its timestamp. */
export function isMigrationReference(text: string): boolean {
  return migrationIdProblem(text) === undefined || migrationNameProblem(text) === undefined;
}
