/**
 * Sticky bucketing shared by the SDK (src/sdk), the rollout block and the state schema (the SQL twin).
 * A leaf module: it imports nothing, so the SDK can use it without reaching into src/rollout.
 */
/** Buckets per flag: a unit's bucket is 0..9999, so percentages go to 0.01 %. */
export const BUCKETS = 10_000;

const FNV_PRIME = 16777619;
const FNV_OFFSET = 0x811c9dc5;

/** Feed the UTF-8 bytes of `s` into the FNV-1a state `h` (32 bit), continuing a stream hash. */
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
    if (c >= 0xd800 && c <= 0xdfff) c = 0xfffd; // a lone surrogate is encoded as U+FFFD, as TextEncoder and PostgreSQL's UTF-8 do
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

/**
 * The sticky bucket of `unitId` for flag `flagKey`: FNV-1a (32 bit) over the
 * UTF-8 bytes of `flagKey + ":" + unitId`, folded (h ^ h >>> 16), modulo 10,000.
 * `ferry.bucket(key, unit)` in SQL computes the same number for every input, so
 * backfills, gates and verification can pick a cohort inside the database.
 */
export function bucketOf(flagKey: string, unitId: string): number {
  return bucketFromPrefix(flagPrefixState(flagKey), unitId);
}

/** Whether a unit in `bucket` is in at `percentage` (0–100, to 0.01): bucket < percentage × 100. Monotonic in the percentage. */
export function inRollout(bucket: number, percentage: number): boolean {
  return bucket < Math.round(percentage * 100);
}

/** The SQL twin of {@link bucketOf}, installed in schema `ferry` with ferry's state. */
export const BUCKET_SQL = `
CREATE FUNCTION ferry.bucket(flag_key text, unit_id text) RETURNS integer
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
DECLARE
  bytes bytea := convert_to(flag_key || ':' || unit_id, 'UTF8');
  h bigint := 2166136261;
  i integer;
BEGIN
  FOR i IN 0 .. length(bytes) - 1 LOOP
    h := ((h # get_byte(bytes, i)) * 16777619) & 4294967295;
  END LOOP;
  RETURN ((h # (h >> 16)) % 10000)::integer;
END
$fn$;`;
