/** Buckets per flag: a unit's bucket is 0..9999, so percentages go to 0.01 %. */
export const BUCKETS = 10_000;

/**
 * The sticky bucket of `unitId` for flag `flagKey`: FNV-1a (32 bit) over the
 * UTF-8 bytes of `flagKey + ":" + unitId`, folded (h ^ h >>> 16), modulo 10,000.
 * `ferry.bucket(key, unit)` in SQL computes the same number for every input, so
 * backfills, gates and verification can pick a cohort inside the database.
 */
export function bucketOf(flagKey: string, unitId: string): number {
  let h = 0x811c9dc5;
  const s = `${flagKey}:${unitId}`;
  for (let i = 0; i < s.length; i++) {
    let c = s.charCodeAt(i);
    if (c < 0x80) {
      h = Math.imul(h ^ c, 16777619);
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
      h = Math.imul(h ^ (0xc0 | (c >> 6)), 16777619);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 16777619);
    } else if (c < 0x10000) {
      h = Math.imul(h ^ (0xe0 | (c >> 12)), 16777619);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 16777619);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 16777619);
    } else {
      h = Math.imul(h ^ (0xf0 | (c >> 18)), 16777619);
      h = Math.imul(h ^ (0x80 | ((c >> 12) & 0x3f)), 16777619);
      h = Math.imul(h ^ (0x80 | ((c >> 6) & 0x3f)), 16777619);
      h = Math.imul(h ^ (0x80 | (c & 0x3f)), 16777619);
    }
  }
  h >>>= 0;
  return ((h ^ (h >>> 16)) >>> 0) % BUCKETS;
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
