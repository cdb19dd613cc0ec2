import { statSync } from 'node:fs';
import { join } from 'node:path';
import type { ForeignMigration, HistoryRow, ToolReader } from '../types.js';
import { byCodePoint, findHistoryTable, layoutError, listToolFolder, namedLike, readToolText } from './tool-files.js';

/*
 * Flyway: `V<version>__<desc>.sql` (versioned), `U<version>__<desc>.sql` (its
 * undo) and `R__<desc>.sql` (repeatable), found anywhere under the folder.
 * History: `flyway_schema_history`, one row per run, with Flyway's CRC32
 * checksum. Repeatable migrations come last with the version `R__<desc>`:
 * ferry cannot import them (they rerun whenever they change), and the
 * workflow lists them as such.
 */

const FILE_NAME = /^([VU])(\d+(?:[._]\d+)*)__(.+)\.sql$|^R__(.+)\.sql$/;
const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/**
 * Flyway's checksum of a script (ChecksumCalculator): CRC-32 over the UTF-8
 * bytes of each line without its terminator (`\n`, `\r` or `\r\n`), in order,
 * a byte-order mark dropped from the first line; the signed 32-bit result as
 * a decimal string.
 */
export function flywayChecksum(text: string): string {
  const lines = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/);
  let crc = 0xffffffff;
  for (const line of lines) {
    for (const byte of Buffer.from(line, 'utf8')) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  }
  return String((crc ^ 0xffffffff) | 0);
}

/** The version's numeric parts, trailing zeros dropped (Flyway's MigrationVersion: 1.0 is 1). */
function versionParts(version: string): bigint[] {
  const parts = version.split('.').map(BigInt);
  while (parts.length > 1 && parts[parts.length - 1] === 0n) parts.pop();
  return parts;
}

function compareVersions(a: string, b: string): number {
  const x = versionParts(a);
  const y = versionParts(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const p = x[i] ?? 0n;
    const q = y[i] ?? 0n;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** The `.sql` files under `dir`, relative to it, sub-folders included (Flyway scans locations recursively). */
function sqlFiles(dir: string, prefix = ''): string[] {
  const found: string[] = [];
  for (const name of listToolFolder(join(dir, prefix))) {
    const rel = prefix ? join(prefix, name) : name;
    if (statSync(join(dir, rel), { throwIfNoEntry: false })?.isDirectory()) found.push(...sqlFiles(dir, rel));
    else if (name.endsWith('.sql')) found.push(rel);
  }
  return found;
}

/** Whether the script's config file (`V1__x.sql.conf`) says `executeInTransaction=false`. */
function outsideTransaction(file: string): boolean {
  if (!statSync(`${file}.conf`, { throwIfNoEntry: false })?.isFile()) return false;
  return /^\s*executeInTransaction\s*=\s*false\s*$/m.test(readToolText(`${file}.conf`));
}

/** Flyway's migrations (its default folder: `sql`): versioned ones by version, each with its undo as `down`, then repeatable ones by description. */
export const flywayReader: ToolReader = {
  tool: 'flyway',
  defaultDir: 'sql',
  read(dir: string): ForeignMigration[] {
    const versioned: ForeignMigration[] = [];
    const undo = new Map<string, string>();
    const repeatable: ForeignMigration[] = [];
    for (const rel of sqlFiles(dir)) {
      const base = rel.split(/[\\/]/).pop() as string;
      const m = namedLike(
        FILE_NAME,
        base,
        join(dir, rel),
        'is not named `V<version>__<description>.sql`, `U<version>__<description>.sql` or `R__<description>.sql`',
        'rename it the way Flyway expects, or move it out of the folder',
      );
      const [, kind, raw, desc, rdesc] = m;
      const text = readToolText(join(dir, rel));
      if (rdesc !== undefined) {
        repeatable.push({
          version: `R__${rdesc}`,
          name: rdesc,
          files: [rel],
          up: text,
          transaction: !outsideTransaction(join(dir, rel)),
          toolChecksum: flywayChecksum(text),
        });
        continue;
      }
      const version = (raw as string).replaceAll('_', '.');
      if (kind === 'U') {
        const other = [...undo.keys()].find((v) => compareVersions(v, version) === 0);
        if (other)
          throw layoutError(
            join(dir, rel),
            `is a second undo for version ${version}, beside ${join(dir, undo.get(other) as string)}`,
            'keep one undo file per version',
          );
        undo.set(version, rel);
        continue;
      }
      const other = versioned.find((v) => compareVersions(v.version, version) === 0);
      if (other)
        throw layoutError(join(dir, rel), `has the same version ${version} as ${join(dir, other.files[0] as string)}`, 'give each migration its own version');
      versioned.push({
        version,
        name: desc as string,
        files: [rel],
        up: text,
        transaction: !outsideTransaction(join(dir, rel)),
        toolChecksum: flywayChecksum(text),
      });
    }
    for (const [version, rel] of undo) {
      const target = versioned.find((v) => compareVersions(v.version, version) === 0);
      if (!target) throw layoutError(join(dir, rel), `undoes version ${version}, which has no V file`, 'add the V file, or remove the undo file');
      target.files.push(rel);
      target.down = readToolText(join(dir, rel));
    }
    versioned.sort((a, b) => compareVersions(a.version, b.version));
    repeatable.sort((a, b) => byCodePoint(a.name, b.name));
    return [...versioned, ...repeatable];
  },
  async history(db) {
    const table = await findHistoryTable(db, 'flyway_schema_history');
    if (!table) return undefined;
    const r = await db.query<{ version: string | null; description: string; type: string; checksum: number | null; success: boolean }>(
      `SELECT version, description, type, checksum, success FROM ${table.sql} ORDER BY installed_rank`,
    );
    const rows: HistoryRow[] = [];
    let upTo: string | undefined;
    for (const row of r.rows) {
      // SCHEMA: Flyway created the schemas; DELETE: `repair` marked a missing migration deleted.
      if (row.type === 'SCHEMA' || row.type === 'DELETE') continue;
      const version = row.version ?? `R__${row.description.replaceAll(' ', '_')}`;
      if (row.type === 'UNDO_SQL' || row.type === 'UNDO_JDBC') {
        // A successful undo takes back the runs of its version before it.
        if (row.success) for (const earlier of rows) if (earlier.version === version) earlier.status = 'rolled-back';
        continue;
      }
      if (row.type === 'BASELINE' && (upTo === undefined || compareVersions(version, upTo) > 0)) upTo = version;
      const entry: HistoryRow = { version, status: row.success ? 'applied' : 'failed' };
      if (row.checksum !== null && row.type !== 'BASELINE') entry.checksum = String(row.checksum);
      rows.push(entry);
    }
    return upTo === undefined ? { table: table.name, rows } : { table: table.name, rows, upTo };
  },
};
