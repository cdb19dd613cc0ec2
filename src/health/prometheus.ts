import { FerryError } from '../errors.js';
import { parseHold } from '../rollout/schedule.js';
import type { Cohort } from '../sdk/metrics.js';
import type { PrometheusSettings } from './config.js';
import type { CohortFigures, MetricSource, Window } from './source.js';

const SERIES = 'flag="{{flag}}",cohort="{{cohort}}"';

/** The queries used when the manifest names none: the series the SDK exposes at `/metrics`. */
export const DEFAULT_QUERIES = {
  requests: `sum(increase(ferry_requests_total{${SERIES}}[{{window}}]))`,
  errorRate: `sum(increase(ferry_errors_total{${SERIES}}[{{window}}])) / sum(increase(ferry_requests_total{${SERIES}}[{{window}}]))`,
  latencyP99: `histogram_quantile(0.99, sum by (le) (increase(ferry_latency_seconds_bucket{${SERIES}}[{{window}}])))`,
  dataErrors: `sum(increase(ferry_data_errors_total{${SERIES}}[{{window}}]))`,
} as const;

/** A PromQL string literal's content: backslashes and double quotes escaped. */
function promString(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** Fill `{{flag}}`, `{{cohort}}` and `{{window}}` (whole seconds, at least 1s) into a query. */
export function fillQuery(query: string, flag: string, cohort: Cohort, windowMs: number): string {
  const window = `${Math.max(1, Math.ceil(windowMs / 1000))}s`;
  return query.replaceAll('{{flag}}', promString(flag)).replaceAll('{{cohort}}', cohort).replaceAll('{{window}}', window);
}

interface QueryResponse {
  status: 'success' | 'error';
  error?: string;
  errorType?: string;
  data?: { resultType: string; result: unknown };
}

/** A number from Prometheus's JSON (`"0.25"`, `"NaN"`, `"+Inf"`); null when missing or not finite. */
function sampleValue(data: QueryResponse['data']): number | null {
  if (!data) return null;
  let text: unknown;
  if (data.resultType === 'scalar') text = (data.result as [number, string])[1];
  else if (data.resultType === 'vector') text = (data.result as { value: [number, string] }[])[0]?.value[1];
  const n = typeof text === 'string' ? Number(text) : Number.NaN;
  return Number.isFinite(n) ? n : null;
}

/** Prometheus over its HTTP API (`/api/v1/query`), with the manifest's queries or the SDK's defaults. */
export class PrometheusSource implements MetricSource {
  readonly name = 'prometheus' as const;
  private readonly timeoutMs: number;

  constructor(private readonly settings: PrometheusSettings) {
    this.timeoutMs = (settings.timeout && parseHold(settings.timeout)) || 10_000;
  }

  async read(flag: string, cohort: Cohort, window: Window): Promise<CohortFigures> {
    const windowMs = window.to.getTime() - window.from.getTime();
    const at = window.to.getTime() / 1000;
    const custom = this.settings.errorRate !== undefined || this.settings.latencyP99 !== undefined;
    const q = (name: keyof typeof DEFAULT_QUERIES) =>
      this.settings[name] ?? (custom && name !== 'errorRate' && name !== 'latencyP99' ? undefined : DEFAULT_QUERIES[name]);
    const run = async (name: keyof typeof DEFAULT_QUERIES) => {
      const query = q(name);
      return query === undefined ? null : this.query(fillQuery(query, flag, cohort, windowMs), at);
    };
    const [requests, errorRate, p99s, dataErrors] = await Promise.all([run('requests'), run('errorRate'), run('latencyP99'), run('dataErrors')]);
    return {
      requests,
      errorRate,
      p99Ms: p99s === null ? null : p99s * 1000,
      dataErrors: dataErrors === null ? 0 : Math.round(dataErrors),
    };
  }

  /** Evaluate one instant query at `at` (unix seconds); null when it has no (finite) value. */
  async query(query: string, at: number): Promise<number | null> {
    const url = new URL('api/v1/query', this.settings.url.endsWith('/') ? this.settings.url : `${this.settings.url}/`);
    url.searchParams.set('query', query);
    url.searchParams.set('time', at.toFixed(3));
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw new FerryError(
        'E_CONNECT',
        `cannot query Prometheus at ${this.settings.url}: ${err instanceof Error ? err.message : String(err)}`,
        'is Prometheus running, and health.prometheus.url in the manifest right?',
        undefined,
        { cause: err },
      );
    }
    const body = (await res.json().catch(() => ({ status: 'error', error: `HTTP ${res.status}, not JSON` }))) as QueryResponse;
    if (body.status !== 'success') {
      throw new FerryError(
        body.errorType === 'bad_data' ? 'E_MANIFEST' : 'E_CONNECT',
        `Prometheus refused the query ${query}: ${body.error ?? `HTTP ${res.status}`}`,
        body.errorType === 'bad_data' ? 'fix the PromQL in health.prometheus of the manifest' : 'check the Prometheus server',
      );
    }
    return sampleValue(body.data);
  }
}
