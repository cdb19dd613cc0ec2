import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * A project file ferry could not read, or whose bytes are not UTF-8: the path
 * and the reason in words ("permission denied", "is a directory" …). Callers
 * turn it into the error code of the file's kind (E_CONFIG, E_MANIFEST …).
 */
export class UnreadableFile extends Error {
  override readonly name = 'UnreadableFile';
  constructor(
    readonly file: string,
    readonly reason: string,
    /** `access`: the file system refused; `encoding`: the bytes are not UTF-8. */
    readonly kind: 'access' | 'encoding' = 'access',
  ) {
    super(kind === 'access' ? `${file}: cannot be read: ${reason}` : `${file}: ${reason}`);
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'permission denied',
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'is not a directory',
  ENOENT: 'does not exist',
  ELOOP: 'is a loop of symbolic links',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  EIO: 'input/output error reading it',
};

/** The reason a file-system call failed on `path`, in words; a dangling symbolic link names its target. */
export function fileErrorReason(path: string, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  if (code === 'ENOENT') {
    try {
      if (lstatSync(path).isSymbolicLink()) return `is a symbolic link to ${readlinkSync(path)}, which does not exist`;
    } catch {
      // not a link either: it simply does not exist
    }
  }
  if (code && REASONS[code]) return REASONS[code];
  return err instanceof Error ? err.message : String(err);
}

/**
 * Whether something is at `path` — a file, a folder, or a symbolic link even
 * when it points nowhere — so that a broken entry is reported, not skipped.
 */
export function entryExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const BOM = [0xef, 0xbb, 0xbf];

/** The 0-based offset of the first byte that does not start a valid UTF-8 sequence, or -1 when all of `bytes` is UTF-8. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i] as number;
    let n: number;
    if (b < 0x80) n = 0;
    else if (b >= 0xc2 && b <= 0xdf) n = 1;
    else if (b >= 0xe0 && b <= 0xef) n = 2;
    else if (b >= 0xf0 && b <= 0xf4) n = 3;
    else return i;
    // The second byte's range excludes overlong forms, surrogates and code points past U+10FFFF.
    let min = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    let max = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k <= n; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < min || c > max) return i;
      min = 0x80;
      max = 0xbf;
    }
    i += n + 1;
  }
  return -1;
}

/**
 * Decode a file's bytes as UTF-8: a leading byte-order mark is dropped, and
 * invalid bytes are refused with the line and byte offset of the first one
 * (never replaced by U+FFFD).
 */
export function decodeUtf8(file: string, bytes: Uint8Array): string {
  const start = BOM.every((b, i) => bytes[i] === b) ? 3 : 0;
  const body = bytes.subarray(start);
  try {
    return UTF8.decode(body);
  } catch {
    const at = start + Math.max(0, invalidUtf8Offset(body));
    let line = 1;
    for (let i = 0; i < at; i++) if (bytes[i] === 0x0a) line++;
    const hex = (bytes[at] ?? 0).toString(16).padStart(2, '0');
    throw new UnreadableFile(file, `not valid UTF-8 at line ${line}, byte offset ${at} (byte 0x${hex}); save the file as UTF-8`, 'encoding');
  }
}

/** Read a text file as UTF-8 (see {@link decodeUtf8}); any failure is an {@link UnreadableFile} naming the path and the reason. */
export function readTextFile(file: string): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (err) {
    throw new UnreadableFile(file, fileErrorReason(file, err));
  }
  return decodeUtf8(file, bytes);
}

/** The names in folder `dir`; a folder that cannot be listed is an {@link UnreadableFile} naming it and the reason. */
export function readFolder(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    throw new UnreadableFile(dir, fileErrorReason(dir, err));
  }
}
