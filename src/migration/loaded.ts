import type { BackfillStepSpec } from '../backfill/spec.js';
import type { Statement } from '../db/sql-script.js';
import type { PreviousGeneration, StepDefinition } from './definition.js';
import type { Manifest } from './manifest.js';

// The shapes of a loaded migration: what src/migration/loader.ts builds and its helpers (files.ts, op-compile.ts) fill in.
// Types only, so the helpers import them one way; loader.ts re-exports them.

/** The SQL of one direction of a step, with its file and its statements. */
export interface SqlScript {
  file: string;
  text: string;
  statements: Statement[];
}

/** One step of a loaded migration: everything needed to run, undo and check it. */
export interface Step {
  id: string;
  /** 0-based order in the migration. */
  index: number;
  kind: 'sql' | 'ts' | 'backfill';
  description?: string;
  transaction: boolean;
  irreversible: boolean;
  forward?: SqlScript;
  rollback?: SqlScript;
  verify?: SqlScript;
  cleanup?: SqlScript;
  /** For `ts` steps and backfill transforms: absolute path of the module. */
  module?: string;
  /** For `backfill` steps: what to fill and how. */
  backfill?: BackfillStepSpec;
  /** sha256 of what `forward` applies (kept for databases that recorded only this). */
  checksum: string;
  /** The checksums of everything the step is: its body, its rollback and its verify; recorded when it is applied. */
  definition: StepDefinition;
  /** `contract` for steps that remove the old shape: `up` leaves them to `ferry contract`, after verification. */
  phase?: 'contract';
  /**
   * For steps compiled from an operation (`kind: "op"` in the manifest): which one, the lint rules its SQL handles
   * safely, the manifest step it comes from and that step's spec as compiled (columns named as stored).
   */
  operation?: { op: string; part: string; handles: string[]; step?: string; spec?: unknown };
  /**
   * What this same step was as an earlier ferry read or compiled it (other trigger SQL, other backfill defaults):
   * a step recorded as one of these was not edited, only generated anew.
   */
  previous?: PreviousGeneration[];
}

/** A migration folder, loaded and validated. */
export interface Migration {
  /** The folder name, e.g. `20261127093000_split_full_name`. */
  id: string;
  dir: string;
  manifest: Manifest;
  steps: Step[];
  /** A checksum of each manifest field as written (but `steps` and `pointOfNoReturn`), recorded when the first step is applied. */
  definition: Record<string, string>;
  /** sha256 of the whole definition: every manifest field and every step's definition (the SQL operations compile to included). */
  checksum: string;
  /** Where results derived from this migration (its lint report) are kept while it is unchanged; absent without a cache. */
  cacheDir?: string;
}
