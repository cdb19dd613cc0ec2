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
];
