-- The linter's corpus: each statement carries the exact rule ids it must be
-- flagged with (`-- expect: none` for a safe statement). `users`, `orders`,
-- `accounts` … exist before this script; `fresh*` tables are created here.

-- expect: none
SET lock_timeout = '2s';

-- expect: none
SET statement_timeout = '5min';

-- expect: required-column-without-default
ALTER TABLE users ADD COLUMN tenant_id bigint NOT NULL;

-- expect: none
ALTER TABLE users ADD COLUMN nickname text;

-- expect: none
ALTER TABLE users ADD COLUMN settings jsonb NOT NULL DEFAULT '{}';

-- expect: none
ALTER TABLE users ADD COLUMN created_at timestamptz NOT NULL DEFAULT now();

-- expect: none
ALTER TABLE users ADD COLUMN seen_at timestamptz DEFAULT current_timestamp;

-- expect: volatile-default
ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid();

-- expect: volatile-default
ALTER TABLE users ADD COLUMN jitter float8 NOT NULL DEFAULT random();

-- expect: volatile-default
ALTER TABLE users ADD COLUMN stamp timestamptz DEFAULT clock_timestamp();

-- expect: volatile-default
ALTER TABLE users ADD COLUMN seq bigserial;

-- expect: volatile-default
ALTER TABLE users ADD COLUMN n bigint DEFAULT nextval('users_n_seq');

-- expect: table-rewrite
ALTER TABLE users ADD COLUMN name_len int GENERATED ALWAYS AS (length(nickname)) STORED;

-- expect: index-not-concurrent
CREATE INDEX users_email_idx ON users (email);

-- expect: index-not-concurrent
CREATE UNIQUE INDEX users_handle_key ON public.users (lower(handle));

-- expect: column-type-change
ALTER TABLE users ALTER COLUMN age TYPE bigint;

-- expect: column-type-change
ALTER TABLE orders ALTER COLUMN total SET DATA TYPE numeric(12, 2) USING total::numeric;

-- expect: rename-column
ALTER TABLE users RENAME COLUMN full_name TO display_name;

-- expect: rename-table
ALTER TABLE orders RENAME TO purchases;

-- expect: drop-column
ALTER TABLE users DROP COLUMN legacy_flag;

-- expect: drop-table
DROP TABLE audit_log;

-- expect: foreign-key-without-not-valid
ALTER TABLE orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) REFERENCES users (id);

-- expect: none
ALTER TABLE orders ADD CONSTRAINT orders_account_fk FOREIGN KEY (account_id) REFERENCES accounts (id) NOT VALID;

-- expect: none
ALTER TABLE orders VALIDATE CONSTRAINT orders_account_fk;

-- expect: foreign-key-without-not-valid
ALTER TABLE orders ADD COLUMN coupon_id bigint REFERENCES coupons (id);

-- expect: check-without-not-valid
ALTER TABLE orders ADD CONSTRAINT orders_total_positive CHECK (total > 0);

-- expect: none
ALTER TABLE orders ADD CONSTRAINT orders_qty_positive CHECK (qty > 0) NOT VALID;

-- expect: set-not-null-without-check
ALTER TABLE users ALTER COLUMN email SET NOT NULL;

-- expect: none
ALTER TABLE accounts ADD CONSTRAINT accounts_owner_nn CHECK (owner_id IS NOT NULL) NOT VALID;

-- expect: set-not-null-without-check
ALTER TABLE accounts ALTER COLUMN owner_id SET NOT NULL;

-- expect: none
ALTER TABLE accounts VALIDATE CONSTRAINT accounts_owner_nn;

-- expect: none
ALTER TABLE accounts ALTER COLUMN owner_id SET NOT NULL;

-- expect: unique-without-index
ALTER TABLE accounts ADD CONSTRAINT accounts_email_key UNIQUE (email);

-- expect: none
ALTER TABLE accounts ADD CONSTRAINT accounts_slug_key UNIQUE USING INDEX accounts_slug_idx;

-- expect: none
CREATE INDEX CONCURRENTLY accounts_created_idx ON accounts (created_at);

-- expect: drop-index-not-concurrent
DROP INDEX accounts_old_idx;

-- expect: none
DROP INDEX CONCURRENTLY IF EXISTS accounts_older_idx;

-- expect: unbounded-dml
UPDATE users SET nickname = lower(nickname);

-- expect: none
UPDATE users SET nickname = NULL WHERE id = 42;

-- expect: unbounded-dml
DELETE FROM sessions;

-- expect: none
DELETE FROM sessions WHERE expires_at < now();

-- expect: truncate-table
TRUNCATE events;

-- expect: lock-table
LOCK TABLE users IN ACCESS EXCLUSIVE MODE;

-- expect: none
LOCK TABLE users IN ACCESS SHARE MODE;

-- expect: table-rewrite
VACUUM FULL users;

-- expect: table-rewrite
CLUSTER orders USING orders_pkey;

-- expect: table-rewrite
ALTER TABLE events SET LOGGED;

-- expect: reindex-not-concurrent
REINDEX TABLE orders;

-- expect: none
REINDEX TABLE CONCURRENTLY orders;

-- expect: none
CREATE TRIGGER users_audit AFTER UPDATE ON users FOR EACH ROW EXECUTE FUNCTION audit();

-- expect: none
ALTER TABLE users ALTER COLUMN nickname SET STATISTICS 500;

-- expect: none
CREATE TABLE fresh (id bigint PRIMARY KEY, user_id bigint REFERENCES users (id), email text);

-- expect: none
CREATE INDEX fresh_email_idx ON fresh (email);

-- expect: none
ALTER TABLE fresh ADD COLUMN tenant_id bigint NOT NULL;

-- expect: none
ALTER TABLE fresh ADD COLUMN token uuid DEFAULT gen_random_uuid();

-- expect: none
ALTER TABLE fresh ALTER COLUMN email TYPE varchar(320);

-- expect: none
ALTER TABLE fresh ALTER COLUMN email SET NOT NULL;

-- expect: none
ALTER TABLE fresh ADD CONSTRAINT fresh_user_fk FOREIGN KEY (user_id) REFERENCES users (id);

-- expect: none
ALTER TABLE fresh ADD CONSTRAINT fresh_email_key UNIQUE (email);

-- expect: none
ALTER TABLE fresh RENAME COLUMN email TO contact;

-- expect: none
UPDATE fresh SET contact = lower(contact);

-- expect: none
ALTER TABLE fresh RENAME TO fresh_contacts;

-- expect: none
ALTER TABLE fresh_contacts DROP COLUMN tenant_id;

-- expect: none
DROP INDEX fresh_email_idx;

-- expect: none
TRUNCATE fresh_contacts;

-- expect: none
DROP TABLE fresh_contacts;

-- expect: none
CREATE TABLE app.fresh_events AS SELECT id, nickname FROM users;

-- expect: none
CREATE INDEX fresh_events_idx ON app.fresh_events (nickname);

-- expect: none
ALTER TYPE order_status ADD VALUE 'refunded';

-- expect: none
CREATE VIEW active_users AS SELECT * FROM users WHERE deleted_at IS NULL;

-- expect: none
COMMENT ON COLUMN users.nickname IS 'shown in the UI';

-- expect: none
BEGIN;

-- expect: transaction-incompatible
CREATE INDEX CONCURRENTLY orders_created_idx ON orders (created_at);

-- expect: none
ALTER TYPE order_status ADD VALUE 'disputed';

-- expect: enum-value-in-transaction
UPDATE orders SET status = 'disputed' WHERE id = 7;

-- expect: transaction-incompatible
VACUUM orders;

-- expect: none
COMMIT;

-- expect: none
VACUUM (ANALYZE) orders;

-- expect: none
UPDATE orders SET status = 'disputed' WHERE id = 8;

-- expect: none
SELECT count(*) FROM orders;
