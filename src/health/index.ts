/** Health gates: metric sources, the decision matrix, the decision tree and the rollout controller (issue 7). */
export { assessHealth, type HealthTarget, sourceFor } from './assess.js';
export {
  DEFAULT_INTERVAL_MS,
  DEFAULT_WINDOW_MS,
  type HealthInput,
  type HealthSettings,
  healthSchema,
  healthSettingsOf,
  type PrometheusSettings,
} from './config.js';
export {
  type ControllerEvent,
  type ControllerOptions,
  type ControllerResult,
  type ControllerTarget,
  type ControllerWorkflow,
  decisionDetails,
  lastSafePoint,
  redHealthJudge,
  runController,
} from './controller.js';
export { type ControllerRecord, type ControllerState, readController } from './controller-state.js';
export { type Action, type Decision, type DecisionContext, decide } from './decision.js';
export {
  bandColour,
  counts,
  type DecisionMatrix,
  evaluateMatrix,
  explain,
  METRIC_NAMES,
  type MetricName,
  type MetricVerdict,
  verdictNumbers,
  worst,
} from './matrix.js';
export { DEFAULT_QUERIES, fillQuery, PrometheusSource } from './prometheus.js';
export {
  type ResourceSample,
  type ResourceSignal,
  resourceSignals,
  type SignalName,
  signalCompared,
  signalFigure,
  signalName,
  walRateIn,
} from './resource-row.js';
export { judgeResources, type ResourceInput, type ResourceProbe, readSamples, resourceRow, sampleResources } from './resources.js';
export { resumeRollout } from './resume.js';
export { type MetricRow, mergeMetricRows, SdkMetricSource, type SdkTotals, sdkTotals } from './sdk-source.js';
export { type HealthPoint, type HealthSeries, type HealthSeriesOptions, sdkHealthSeries } from './series.js';
export type { CohortFigures, MetricSource, Window } from './source.js';
export { controllerTargetOf } from './target.js';
export {
  type Colour,
  DEFAULT_THRESHOLDS,
  type RatioBand,
  type ResourceThresholds,
  type Thresholds,
  thresholdsOf,
  thresholdsSchema,
} from './thresholds.js';
