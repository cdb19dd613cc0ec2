import { BUCKETS } from '../rollout/bucket.js';

const FNV_PRIME = 16777619;
const FNV_OFFSET = 0x811c9dc5;

/** Feed the UTF-8 bytes of `s` into the FNV-1a state `h` (32 bit), exactly as `bucketOf` does. */
function feed(h: number, s: string, from = 0): number {
  for (let i = from; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, FNV_PRIME);
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate is U+FFFD, as in bucketOf
    if (c < 0x800) {
      h = Math.imul(h ^ (0xc0 | (c >> 6)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), FNV_PRIME);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), FNV_PRIME);
    }
  }
  return h;
}

/**
 * The FNV-1a state after hashing `flagKey + ":"`. FNV is a stream hash, so the
 * SDK computes it once per flag and hashes only the unit id per evaluation.
 */
export function flagPrefixState(flagKey: string): number {
  return feed(FNV_OFFSET, `${flagKey}:`);
}

/** The unit's bucket (0..9999) from a flag's prefix state; equal to `bucketOf(flagKey, unitId)` for every input. */
export function bucketFromPrefix(prefixState: number, unitId: string): number {
  let h = prefixState;
  const n = unitId.length;
  let i = 0;
  // Unit ids are nearly always ASCII: a tight loop for those bytes, the full UTF-8 path from the first other char.
  for (; i < n; i++) {
    const c = unitId.charCodeAt(i);
    if (c >= 0x80) break;
    h = Math.imul(h ^ c, FNV_PRIME);
  }
  if (i < n) h = feed(h, unitId, i);
  h >>>= 0;
  return ((h ^ (h >>> 16)) >>> 0) % BUCKETS;
}
