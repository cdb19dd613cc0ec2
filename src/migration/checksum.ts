import { createHash } from 'node:crypto';

/** sha256 hex of some text, line endings normalised so a checkout on Windows does not drift. */
export function checksumOf(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p.replace(/\r\n/g, '\n')).update('\0');
  return h.digest('hex');
}
