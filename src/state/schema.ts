import { BUCKET_SQL } from '../bucket.js';

/**
 * ferry's own tables in the target database (schema `ferry`). Versioned so a
 * newer ferry can upgrade them in place; each version is applied once.
 */
export const STATE_SCHEMA_VERSIONS: readonly string[] = [
  `
  CREATE SCHEMA IF NOT EXISTS ferry;
  CREATE TABLE ferry.migrations (
    id          text PRIMARY KEY,
    phase       text NOT NULL,
    title       text NOT NULL DEFAULT '',
    checksum    text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
  );
  CREATE TABLE ferry.applied_steps (
    migration_id text NOT NULL REFERENCES ferry.migrations (id),
    step_id      text NOT NULL,
    position     int NOT NULL,
    checksum     text NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now(),
    applied_by   text NOT NULL,
    duration_ms  int NOT NULL DEFAULT 0,
    baseline     boolean NOT NULL DEFAULT false,
    PRIMARY KEY (migration_id, step_id)
  );
  -- A non-transactional step that has started but not finished; found after a crash.
  CREATE TABLE ferry.step_runs (
    migration_id text NOT NULL,
    step_id      text NOT NULL,
    direction    text NOT NULL CHECK (direction IN ('forward', 'rollback')),
    started_at   timestamptz NOT NULL DEFAULT now(),
    started_by   text NOT NULL,
    PRIMARY KEY (migration_id, step_id, direction)
  );
  CREATE TABLE ferry.events (
    id           bigserial PRIMARY KEY,
    migration_id text NOT NULL,
    at           timestamptz NOT NULL DEFAULT clock_timestamp(),
    actor        text NOT NULL,
    kind         text NOT NULL,
    from_phase   text,
    to_phase     text,
    step_id      text,
    reason       text,
    details      jsonb
  );
  CREATE INDEX events_migration_idx ON ferry.events (migration_id, id);
  CREATE FUNCTION ferry.events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    RAISE EXCEPTION 'ferry.events is append-only';
  END $$;
  CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON ferry.events
    FOR EACH ROW EXECUTE FUNCTION ferry.events_append_only();
  CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON ferry.events
    FOR EACH STATEMENT EXECUTE FUNCTION ferry.events_append_only();
  `,
  // 2: backfills. One row per backfill step (its state doubles as the pause/resume/cancel control),
  // and its key ranges: the unit workers claim, each with its own checkpoint, committed with every batch.
  `
  CREATE TABLE ferry.backfills (
    migration_id      text NOT NULL,
    step_id           text NOT NULL,
    table_name        text NOT NULL,
    key_columns       text[] NOT NULL,
    state             text NOT NULL DEFAULT 'pending'
                      CHECK (state IN ('pending', 'running', 'paused', 'cancelled', 'done', 'failed')),
    rows_total        bigint NOT NULL DEFAULT 0,
    error             text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    run_started_at    timestamptz,
    rows_at_run_start bigint NOT NULL DEFAULT 0,
    control_by        text,
    control_at        timestamptz,
    updated_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, step_id)
  );
  CREATE TABLE ferry.backfill_ranges (
    migration_id     text NOT NULL,
    step_id          text NOT NULL,
    range_no         int NOT NULL,
    lower_key        text[],
    upper_key        text[],
    last_key         text[],
    done             boolean NOT NULL DEFAULT false,
    rows_done        bigint NOT NULL DEFAULT 0,
    keys_walked      bigint NOT NULL DEFAULT 0,
    batches          int NOT NULL DEFAULT 0,
    retries          int NOT NULL DEFAULT 0,
    batch_size       int NOT NULL DEFAULT 0,
    last_batch_ms    double precision NOT NULL DEFAULT 0,
    longest_batch_ms double precision NOT NULL DEFAULT 0,
    throttled_by     text,
    claimed_by       text,
    heartbeat_at     timestamptz,
    lease_ms         int NOT NULL DEFAULT 30000,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, step_id, range_no),
    FOREIGN KEY (migration_id, step_id) REFERENCES ferry.backfills (migration_id, step_id) ON DELETE CASCADE
  );
  COMMENT ON COLUMN ferry.backfill_ranges.lower_key IS 'exclusive lower bound of the range (key values as text); NULL: from the first key';
  COMMENT ON COLUMN ferry.backfill_ranges.upper_key IS 'inclusive upper bound; NULL: to the last key, including rows appended later';
  COMMENT ON COLUMN ferry.backfill_ranges.last_key IS 'checkpoint: the last key walked, committed with its batch; NULL: none yet';
  `,
  // 3: feature flags with sticky percentages; every change is announced on channel ferry_flags.
  `
  CREATE TABLE ferry.flags (
    key          text PRIMARY KEY,
    enabled      boolean NOT NULL DEFAULT false,
    percentage   numeric(5, 2) NOT NULL DEFAULT 0 CHECK (percentage BETWEEN 0 AND 100),
    migration_id text,
    updated_by   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    version      bigint NOT NULL DEFAULT 1
  );
  CREATE FUNCTION ferry.flags_notify() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('ferry_flags', coalesce(NEW.key, OLD.key));
    RETURN NULL;
  END $$;
  CREATE TRIGGER flags_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.flags
    FOR EACH ROW EXECUTE FUNCTION ferry.flags_notify();
  ${BUCKET_SQL}
  `,
  // 4: staged rollouts. One row per migration whose rollout has started: the stage's percentage and since when it is held.
  `
  CREATE TABLE ferry.rollouts (
    migration_id     text PRIMARY KEY,
    flag_key         text NOT NULL,
    percentage       numeric(5, 2) NOT NULL CHECK (percentage BETWEEN 0 AND 100),
    started_at       timestamptz NOT NULL DEFAULT now(),
    stage_started_at timestamptz NOT NULL DEFAULT now(),
    updated_by       text NOT NULL
  );
  COMMENT ON COLUMN ferry.rollouts.stage_started_at IS 'when the rollout moved to its current percentage; the hold counts from here';
  `,
  // 5: data checks (ferry verify --full). Every result (the latest per check is what counts), the checks
  // each migration declared when it was last verified (the rolled-out → verified gate reads them), and
  // a run counter per check so a checksum run interrupted by a crash is resumed, not restarted.
  `
  CREATE TABLE ferry.verify_results (
    id           bigserial PRIMARY KEY,
    migration_id text NOT NULL,
    check_name   text NOT NULL,
    kind         text NOT NULL CHECK (kind IN ('count', 'diff', 'checksum', 'schema')),
    mode         text NOT NULL CHECK (mode IN ('full', 'sample')),
    ok           boolean NOT NULL,
    figures      jsonb NOT NULL,
    differences  jsonb NOT NULL,
    data_errors  bigint NOT NULL DEFAULT 0,
    error        text,
    declaration  text NOT NULL,
    run_id       text,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_by  text NOT NULL
  );
  CREATE INDEX verify_results_latest_idx ON ferry.verify_results (migration_id, check_name, id);
  COMMENT ON COLUMN ferry.verify_results.differences IS 'the first differences found (rows with both sides'' values, or failed schema assertions)';
  COMMENT ON COLUMN ferry.verify_results.data_errors IS 'differing rows (or failed assertions) found; the health matrix counts them';
  COMMENT ON COLUMN ferry.verify_results.declaration IS 'hash of the check as the manifest declared it; a result counts only for that declaration';
  CREATE TABLE ferry.verify_checks (
    migration_id text NOT NULL,
    check_name   text NOT NULL,
    kind         text NOT NULL,
    declaration  text NOT NULL,
    declared_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (migration_id, check_name)
  );
  CREATE TABLE ferry.verify_attempts (
    migration_id text NOT NULL,
    check_name   text NOT NULL,
    run_no       int NOT NULL,
    fingerprint  text NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    started_by   text NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (migration_id, check_name, run_no)
  );
  `,
  // 6: approvals per role (each for the migration's checksum when given; an edit invalidates them) and the
  // backups taken before cleanup (where they are, what they hold, and a checksum of each table's data).
  `
  CREATE TABLE ferry.approvals (
    id             bigserial PRIMARY KEY,
    migration_id   text NOT NULL,
    role           text NOT NULL,
    approved_by    text NOT NULL,
    checksum       text NOT NULL,
    required_roles text[] NOT NULL,
    reason         text,
    approved_at    timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX approvals_migration_idx ON ferry.approvals (migration_id, checksum);
  COMMENT ON COLUMN ferry.approvals.checksum IS 'the migration checksum approved; approvals of another checksum no longer count';
  CREATE TABLE ferry.backups (
    id           text PRIMARY KEY,
    migration_id text NOT NULL,
    method       text NOT NULL CHECK (method IN ('pg_dump', 'copy')),
    location     text NOT NULL,
    objects      jsonb NOT NULL,
    bytes        bigint NOT NULL,
    created_by   text NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX backups_migration_idx ON ferry.backups (migration_id, created_at);
  COMMENT ON COLUMN ferry.backups.objects IS 'each table saved: name, columns, rows and md5 of its data (restore checks them)';
  `,
  // 7: health. The SDK's canary/baseline metrics, one row per process, flag, cohort and time bucket (rows add
  // up across processes; latency is an HdrHistogram, merged when read), and one rollout controller per migration
  // (its lease, so only one runs, and where it stands, so a restarted one continues).
  `
  CREATE TABLE ferry.metrics (
    id           bigserial PRIMARY KEY,
    flag_key     text NOT NULL,
    cohort       text NOT NULL CHECK (cohort IN ('new', 'old')),
    bucket_start timestamptz NOT NULL,
    bucket_ms    int NOT NULL CHECK (bucket_ms > 0),
    requests     bigint NOT NULL,
    errors       bigint NOT NULL,
    data_errors  bigint NOT NULL DEFAULT 0,
    latency      text NOT NULL,
    source       text NOT NULL,
    flushed_at   timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX metrics_window_idx ON ferry.metrics (flag_key, bucket_start);
  COMMENT ON COLUMN ferry.metrics.latency IS 'HdrHistogram of latencies in microseconds, compressed and base64-encoded (the standard HdrHistogram encoding)';
  COMMENT ON COLUMN ferry.metrics.source IS 'the process that flushed the row (host:pid:random)';
  CREATE TABLE ferry.controllers (
    migration_id  text PRIMARY KEY,
    state         text NOT NULL CHECK (state IN ('running', 'waiting', 'paused', 'rolled-back', 'done', 'stopped')),
    percentage    numeric(5, 2),
    reason        text,
    owner         text,
    token         text,
    heartbeat_at  timestamptz,
    lease_ms      int NOT NULL DEFAULT 30000,
    acknowledged  numeric(5, 2),
    evaluations   bigint NOT NULL DEFAULT 0,
    last_colour   text,
    last_action   text,
    last_matrix   jsonb,
    started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
    updated_at    timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  COMMENT ON COLUMN ferry.controllers.token IS 'the running controller''s lease token; NULL when none runs. A lease whose heartbeat is older than lease_ms may be taken over';
  COMMENT ON COLUMN ferry.controllers.acknowledged IS 'the stage (percentage) at which an operator resumed despite yellow; yellow does not pause it again';
  `,
  // 8: the definition of what was applied. Each applied step keeps the checksums of its body, rollback and verify,
  // its rollback itself, and whether it was irreversible or a contract step; each migration keeps its manifest's
  // field checksums and its point of no return from when its first step was applied. `down` obeys these, not the files.
  `
  ALTER TABLE ferry.applied_steps
    ADD COLUMN definition   jsonb,
    ADD COLUMN rollback     jsonb,
    ADD COLUMN irreversible boolean,
    ADD COLUMN phase        text;
  COMMENT ON COLUMN ferry.applied_steps.definition IS 'checksums of the step as applied: body (never editable), rollback and verify (editable only through ferry acknowledge); NULL before state version 8';
  COMMENT ON COLUMN ferry.applied_steps.rollback IS 'the rollback as applied, or as last acknowledged: what ferry down runs';
  ALTER TABLE ferry.migrations
    ADD COLUMN definition         jsonb,
    ADD COLUMN point_of_no_return text;
  COMMENT ON COLUMN ferry.migrations.definition IS 'checksum of each manifest field (but steps) when the first step was applied, or as last acknowledged; NULL while none is applied';
  COMMENT ON COLUMN ferry.migrations.point_of_no_return IS 'the point of no return recorded with the definition; down obeys it, whatever the manifest says now';
  `,
  // 9: flags graduate. At contract a migration's flag is on for everyone for good (graduated_at); cleanup keeps
  // its row as a tombstone instead of deleting it, so an SDK still asking for it answers true, not its default.
  `
  ALTER TABLE ferry.flags
    ADD COLUMN graduated_at timestamptz,
    ADD COLUMN tombstone    boolean NOT NULL DEFAULT false;
  COMMENT ON COLUMN ferry.flags.graduated_at IS 'when the flag graduated (its migration contracted): on for everyone, whatever default the code passes; it can no longer be lowered';
  COMMENT ON COLUMN ferry.flags.tombstone IS 'the migration was cleaned up: the row stays so SDKs answer true (and warn that the if can go)';
  `,
  // 10: what the dashboard watches. Each backfill batch is logged with its checkpoint (duration and size over
  // time), and every change of ferry's state is announced once per statement on channel ferry_state, its payload
  // the table's name, so `ferry serve` updates open pages without polling the server.
  `
  CREATE TABLE ferry.backfill_batches (
    id           bigserial PRIMARY KEY,
    migration_id text NOT NULL,
    step_id      text NOT NULL,
    range_no     int NOT NULL,
    rows         bigint NOT NULL,
    batch_size   int NOT NULL,
    duration_ms  double precision NOT NULL,
    worker       text,
    at           timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX backfill_batches_step_idx ON ferry.backfill_batches (migration_id, step_id, id);
  COMMENT ON TABLE ferry.backfill_batches IS 'one row per committed backfill batch, written in the batch''s own transaction';
  CREATE FUNCTION ferry.state_notify() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN
    PERFORM pg_notify('ferry_state', TG_TABLE_NAME);
    RETURN NULL;
  END $$;
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.migrations FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT ON ferry.events FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.applied_steps FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.backfills FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.backfill_ranges FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.rollouts FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT ON ferry.verify_results FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT OR DELETE ON ferry.approvals FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT ON ferry.metrics FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.controllers FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  `,
  // 11: compat (ferry/compat). A flag carries its migration's stage (off → dualwrite → shadow → live → rampdown →
  // complete), the units always in (include) and never in nor counted (exclude), and when it first reached 100 %
  // (the deprecation timeline counts from there). The SDK's metrics count shadow comparisons and failed secondary
  // writes (both are data errors too); a bounded sample of differing values is kept; API calls are counted per
  // version and consumer, so cleanup can refuse while an old version still has traffic.
  `
  ALTER TABLE ferry.flags
    ADD COLUMN stage         text CHECK (stage IN ('off', 'dualwrite', 'shadow', 'live', 'rampdown', 'complete')),
    ADD COLUMN include_units text[] NOT NULL DEFAULT '{}',
    ADD COLUMN exclude_units text[] NOT NULL DEFAULT '{}',
    ADD COLUMN full_at       timestamptz;
  COMMENT ON COLUMN ferry.flags.stage IS 'the migration stage compat.migration() follows; NULL: never set (off)';
  COMMENT ON COLUMN ferry.flags.include_units IS 'units on the new path from the first stage (edge cases, internal users), while the flag is on';
  COMMENT ON COLUMN ferry.flags.exclude_units IS 'units never on the new path and never counted in the cohort metrics (test accounts)';
  COMMENT ON COLUMN ferry.flags.full_at IS 'when the flag first reached 100 %: T+0 of the deprecation timeline of its API versions';
  ALTER TABLE ferry.metrics
    ADD COLUMN comparisons        bigint NOT NULL DEFAULT 0,
    ADD COLUMN mismatches         bigint NOT NULL DEFAULT 0,
    ADD COLUMN candidate_errors   bigint NOT NULL DEFAULT 0,
    ADD COLUMN candidate_timeouts bigint NOT NULL DEFAULT 0,
    ADD COLUMN write_failures     bigint NOT NULL DEFAULT 0,
    ADD COLUMN candidate_latency  text;
  COMMENT ON COLUMN ferry.metrics.comparisons IS 'shadow reads whose candidate ran (match, mismatch, error or timeout)';
  COMMENT ON COLUMN ferry.metrics.candidate_latency IS 'HdrHistogram of the shadow candidates'' latencies (microseconds), like latency; NULL: none ran';
  CREATE TABLE ferry.shadow_mismatches (
    id        bigserial PRIMARY KEY,
    flag_key  text NOT NULL,
    cohort    text NOT NULL CHECK (cohort IN ('new', 'old')),
    unit_id   text NOT NULL,
    control   jsonb,
    candidate jsonb,
    source    text NOT NULL,
    at        timestamptz NOT NULL DEFAULT clock_timestamp()
  );
  CREATE INDEX shadow_mismatches_flag_idx ON ferry.shadow_mismatches (flag_key, id);
  COMMENT ON TABLE ferry.shadow_mismatches IS 'a bounded sample of shadow reads that differed: both values, as JSON';
  CREATE TABLE ferry.api_consumers (
    api        text NOT NULL,
    version    text NOT NULL,
    consumer   text NOT NULL,
    calls      bigint NOT NULL,
    first_seen timestamptz NOT NULL,
    last_seen  timestamptz NOT NULL,
    PRIMARY KEY (api, version, consumer)
  );
  COMMENT ON TABLE ferry.api_consumers IS 'calls per API version and consumer, added up by every process of the application (ferry/compat)';
  CREATE TRIGGER state_notify AFTER INSERT OR UPDATE OR DELETE ON ferry.api_consumers FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  CREATE TRIGGER state_notify AFTER INSERT ON ferry.shadow_mismatches FOR EACH STATEMENT EXECUTE FUNCTION ferry.state_notify();
  `,
  // 12: pacing by measured impact. Each range's worker records its pacer's last decision (rate, budget, measured
  // impact, duty cycle), so every face shows why a backfill runs at the speed it does. The health matrix's resource
  // row samples the server's load (sessions, lock waits, replay lag, WAL position, requested checkpoints) here:
  // the baseline is what was sampled before a stage began, judged against what is sampled now.
  `
  ALTER TABLE ferry.backfill_ranges ADD COLUMN pacing jsonb;
  COMMENT ON COLUMN ferry.backfill_ranges.pacing IS 'the pacer''s last decision for this range: rate, budget, measured impact, duty cycle (JSON); NULL: not paced yet';
  CREATE TABLE ferry.resource_samples (
    id                    bigserial PRIMARY KEY,
    at                    timestamptz NOT NULL DEFAULT clock_timestamp(),
    source                text NOT NULL,
    active_sessions       int,
    lock_waiters          int,
    replay_lag_seconds    double precision,
    wal_bytes             numeric,
    requested_checkpoints bigint
  );
  CREATE INDEX resource_samples_at_idx ON ferry.resource_samples (at);
  COMMENT ON TABLE ferry.resource_samples IS 'readings of the server''s load for the health matrix''s resource row; NULL where the engine or the role cannot see a figure';
  `,
  // 13: definitions operations remove. An operation's SQL is fixed when it is compiled, before the catalog is read,
  // so drop-constraint, drop-index, set-replica-identity and alter-column (in place) save what they drop or replace when
  // they run, and their rollback re-creates it from here; a dropped index's definition stays after contract, for rebuilding it by hand.
  `
  CREATE TABLE ferry.saved_definitions (
    kind       text NOT NULL,
    relation   text NOT NULL,
    name       text NOT NULL,
    definition text NOT NULL,
    saved_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (kind, relation, name)
  );
  COMMENT ON TABLE ferry.saved_definitions IS 'what an operation dropped or replaced (constraint, index, replica identity, a column''s definition), saved when it ran: its rollback re-creates it from here';
  COMMENT ON COLUMN ferry.saved_definitions.relation IS 'the table, as schema.name';
  COMMENT ON COLUMN ferry.saved_definitions.definition IS 'SQL: pg_get_constraintdef, pg_get_indexdef, or the REPLICA IDENTITY clause; for a column, its nullability, default, comment and type as JSON';
  `,
  // 14: a backfill's pacer reads the application's latency from every flag's recent buckets: an index by time alone.
  `
  CREATE INDEX metrics_bucket_idx ON ferry.metrics (bucket_start);
  `,
];

/**
 * Versions that only index a table the application writes to (`ferry.metrics`, by the SDK). A plain CREATE INDEX
 * holds a SHARE lock until its transaction ends, so every SDK insert would wait for the build: on a server these are
 * built CONCURRENTLY, alone and outside the upgrade's transaction, and recorded once the index is valid. Their entry
 * in {@link STATE_SCHEMA_VERSIONS} is what runs inside a transaction (PGlite, where nobody else writes; dry runs).
 */
export const CONCURRENT_INDEX_VERSIONS: ReadonlyMap<number, { index: string; sql: string }> = new Map([
  [14, { index: 'ferry.metrics_bucket_idx', sql: 'CREATE INDEX CONCURRENTLY IF NOT EXISTS metrics_bucket_idx ON ferry.metrics (bucket_start)' }],
]);
