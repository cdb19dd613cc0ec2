/**
 * The SDK's hot path hashes only the unit id: the FNV-1a state of `flagKey + ":"`
 * is computed once per flag (FNV is a stream hash). Same code as `bucketOf`.
 */
export { bucketFromPrefix, flagPrefixState } from '../bucket.js';
