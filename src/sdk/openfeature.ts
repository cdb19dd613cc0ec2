import {
  type EvaluationContext,
  FlagNotFoundError,
  type JsonValue,
  OpenFeatureEventEmitter,
  type Provider,
  ProviderEvents,
  type ResolutionDetails,
  StandardResolutionReasons,
  TargetingKeyMissingError,
  TypeMismatchError,
} from '@openfeature/server-sdk';
import type { FlagAnswers, Flags } from './flags.js';

/** Options for {@link FerryProvider}. */
export interface FerryProviderOptions {
  /** How long `initialize` waits for the first snapshot before the provider reports an error; default 10,000 ms. */
  readyTimeoutMs?: number;
}

/**
 * An OpenFeature server provider over a ferry {@link FlagAnswers} client (any {@link Flags}): boolean
 * flags only, `targetingKey` as the unit, variant `new` (on) or `old` (off),
 * the unit's bucket and the flag's percentage in the flag metadata. It answers
 * through the SDK's own `isEnabled` and `bucket`, so both always agree: a
 * graduated flag (or its tombstone) is `true` (reason STATIC), whatever the default.
 */
export class FerryProvider implements Provider {
  /** Identifies the provider to OpenFeature. */
  readonly metadata = { name: 'ferry' } as const;
  /** Server-side paradigm: the context arrives with each evaluation. */
  readonly runsOn = 'server' as const;
  /** Emits PROVIDER_CONFIGURATION_CHANGED with `flagsChanged` whenever the snapshot changes. */
  readonly events = new OpenFeatureEventEmitter();
  private unsubscribe: (() => void) | undefined;

  /** Wrap `flags`; the caller keeps owning it (closing the provider does not close the client). */
  constructor(
    private readonly flags: FlagAnswers,
    private readonly opts: FerryProviderOptions = {},
  ) {}

  /** Waits for the first snapshot and starts relaying changes. */
  async initialize(): Promise<void> {
    this.unsubscribe ??= this.flags.onChange(({ changed }) => {
      this.events.emit(ProviderEvents.ConfigurationChanged, { flagsChanged: changed });
    });
    if (!(await this.flags.ready(this.opts.readyTimeoutMs ?? 10_000))) {
      const why = this.flags.status().lastError?.message ?? 'no snapshot yet';
      throw new Error(`ferry flags are not loaded: ${why}`);
    }
  }

  /** Stops relaying changes. */
  async onClose(): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Evaluate flag `flagKey` for the unit `context.targetingKey`. */
  async resolveBooleanEvaluation(flagKey: string, _defaultValue: boolean, context: EvaluationContext): Promise<ResolutionDetails<boolean>> {
    const unit = context.targetingKey;
    if (unit === undefined || unit === '') throw new TargetingKeyMissingError(`flag ${flagKey} needs a targetingKey: the unit it is bucketed by`);
    const flag = this.flags.flag(flagKey);
    if (!flag) throw new FlagNotFoundError(`ferry has no flag ${flagKey}`);
    const value = this.flags.isEnabled(flagKey, unit);
    const bucket = this.flags.bucket(flagKey, unit);
    return {
      value,
      variant: value ? 'new' : 'old',
      reason:
        flag.graduated === true
          ? StandardResolutionReasons.STATIC
          : flag.enabled
            ? StandardResolutionReasons.TARGETING_MATCH
            : StandardResolutionReasons.DISABLED,
      flagMetadata: {
        graduated: flag.graduated === true,
        tombstone: flag.tombstone === true,
        bucket,
        percentage: flag.percentage,
        enabled: flag.enabled,
        version: flag.version,
        stale: this.flags.status().state === 'stale',
      },
    };
  }

  /** ferry flags are boolean. */
  async resolveStringEvaluation(flagKey: string): Promise<ResolutionDetails<string>> {
    throw new TypeMismatchError(`ferry flag ${flagKey} is boolean`);
  }

  /** ferry flags are boolean. */
  async resolveNumberEvaluation(flagKey: string): Promise<ResolutionDetails<number>> {
    throw new TypeMismatchError(`ferry flag ${flagKey} is boolean`);
  }

  /** ferry flags are boolean. */
  async resolveObjectEvaluation<T extends JsonValue>(flagKey: string): Promise<ResolutionDetails<T>> {
    throw new TypeMismatchError(`ferry flag ${flagKey} is boolean`);
  }
}
