-- The catalog-aware corpus: linted with the catalog of a database made by
-- catalog-fixture.sql (both drivers), then run on that database in one
-- transaction. Each statement carries the rule ids it must be flagged with given
-- the catalog (`-- expect:`), and without one when that differs
-- (`-- without catalog:`). `-- size: <table>` asks for the table's measured size
-- in the finding.

-- expect: none
SET lock_timeout = '2s';

-- Binary-coercible widenings: PostgreSQL changes no row.
-- expect: none
-- without catalog: column-type-change
ALTER TABLE users ALTER COLUMN email TYPE text;

-- expect: none
-- without catalog: column-type-change
ALTER TABLE users ALTER COLUMN name TYPE varchar(200);

-- expect: none
-- without catalog: column-type-change
ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 2);

-- expect: none
-- without catalog: column-type-change
ALTER TABLE orders ALTER COLUMN note TYPE varchar;

-- expect: none
-- without catalog: column-type-change
ALTER TABLE app.events ALTER COLUMN kind TYPE text;

-- expect: none
-- without catalog: column-type-change
ALTER TABLE users ALTER COLUMN created_at TYPE timestamp(6);

-- Real rewrites: flagged with the table's size.
-- expect: column-type-change
-- size: public.users
ALTER TABLE users ALTER COLUMN age TYPE bigint;

-- expect: column-type-change
-- size: public.orders
ALTER TABLE orders ALTER COLUMN total TYPE numeric(14, 4);

-- expect: column-type-change
-- size: public.users
ALTER TABLE users ALTER COLUMN handle TYPE text;

-- email is text since the first statement: text → varchar(300) checks every row.
-- expect: column-type-change
-- size: public.users
ALTER TABLE users ALTER COLUMN email TYPE varchar(300);

-- expect: none
ALTER TABLE users ADD COLUMN nickname varchar(20);

-- A column the script added: its type is not the catalog's, so not proven safe.
-- expect: column-type-change
ALTER TABLE users ALTER COLUMN nickname TYPE text;

-- Other big-table rules carry the size too.
-- expect: index-not-concurrent
-- size: public.orders
CREATE INDEX orders_qty_idx ON orders (qty);

-- expect: check-without-not-valid
-- size: public.orders
ALTER TABLE orders ADD CONSTRAINT orders_qty_positive CHECK (qty > 0);

-- Tables created earlier in the same script are empty.
-- expect: none
CREATE TABLE fresh (id bigint PRIMARY KEY, code int, email varchar(50));

-- expect: none
ALTER TABLE fresh ALTER COLUMN code TYPE bigint;

-- expect: none
CREATE INDEX fresh_email_idx ON fresh (email);

-- expect: none
ALTER TABLE fresh ADD CONSTRAINT fresh_code_positive CHECK (code > 0);

-- expect: none
LOCK TABLE fresh IN ACCESS EXCLUSIVE MODE;

-- expect: none
REINDEX TABLE fresh;

-- expect: none
REINDEX INDEX fresh_email_idx;

-- expect: none
DROP INDEX fresh_email_idx;

-- A table dropped and created again is new.
-- expect: drop-table
DROP TABLE audit_log;

-- expect: none
CREATE TABLE audit_log (id int, entry text);

-- expect: none
ALTER TABLE audit_log ALTER COLUMN id TYPE bigint;

-- expect: none
CREATE INDEX audit_log_id_idx ON audit_log (id);

-- LOCK TABLE, REINDEX and DROP INDEX on existing objects are errors.
-- expect: lock-table
-- size: public.orders
LOCK TABLE orders IN SHARE MODE;

-- expect: none
LOCK TABLE orders IN ACCESS SHARE MODE;

-- expect: reindex-not-concurrent
-- size: public.users
REINDEX TABLE users;

-- expect: reindex-not-concurrent
-- size: app.events
REINDEX INDEX app.kind_idx;

-- expect: drop-index-not-concurrent
-- size: public.orders
DROP INDEX orders_user_idx;

-- The catalog proves the index absent: IF EXISTS drops nothing.
-- expect: none
-- without catalog: drop-index-not-concurrent
DROP INDEX IF EXISTS no_such_idx;

-- An index the catalog has stays the existing one after CREATE INDEX IF NOT EXISTS.
-- expect: none
-- without catalog: index-not-concurrent
CREATE INDEX IF NOT EXISTS users_email_idx ON users (email);

-- expect: drop-index-not-concurrent
-- without catalog: none
DROP INDEX users_email_idx;

-- An index is in its table's schema: public.kind_idx is new, app.kind_idx exists.
-- expect: none
CREATE INDEX kind_idx ON fresh (code);

-- expect: drop-index-not-concurrent
-- without catalog: none
-- size: app.events
DROP INDEX app.kind_idx;

-- Without a catalog the linter cannot tell which kind_idx the DROP above removed.
-- expect: none
-- without catalog: drop-index-not-concurrent
DROP INDEX kind_idx;

-- expect: none
CREATE TABLE app.fresh_events (id bigint, kind text);

-- expect: none
CREATE INDEX fresh_kind_idx ON app.fresh_events (kind);

-- expect: none
DROP INDEX app.fresh_kind_idx;

-- A renamed table is still the big one (its size is reported under the catalog's name).
-- expect: rename-table
ALTER TABLE orders RENAME TO purchases;

-- expect: column-type-change
-- size: public.orders
ALTER TABLE purchases ALTER COLUMN id TYPE numeric;

-- expect: none
-- without catalog: column-type-change
ALTER TABLE purchases ALTER COLUMN user_id TYPE int8;

-- CREATE TABLE IF NOT EXISTS meets the existing table: it stays the big one
-- (without a catalog the linter cannot tell, and takes it for new).
-- expect: none
CREATE TABLE IF NOT EXISTS app.events (id bigint PRIMARY KEY);

-- expect: column-type-change
-- without catalog: none
-- size: app.events
ALTER TABLE app.events ALTER COLUMN payload TYPE varchar(10);
