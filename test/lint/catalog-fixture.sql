-- The database the catalog corpus (catalog-corpus.sql) is linted against and run on.
CREATE SCHEMA app;
CREATE TABLE users (
  id bigint PRIMARY KEY,
  email varchar(100),
  name varchar(50),
  age int,
  handle varchar(30) COLLATE "C",
  created_at timestamp(3)
);
CREATE INDEX users_email_idx ON users (email);
CREATE INDEX users_handle_idx ON users (handle);
CREATE TABLE orders (id bigint PRIMARY KEY, user_id bigint, total numeric(10,2), qty int, note varchar(200));
CREATE INDEX orders_user_idx ON orders (user_id);
CREATE TABLE audit_log (id int, entry text);
CREATE TABLE app.events (id bigint PRIMARY KEY, kind varchar(20), payload text);
CREATE INDEX kind_idx ON app.events (kind);
INSERT INTO users SELECT g, 'user' || g || '@example.com', 'User ' || g, 20 + g % 50, 'h' || g, now() FROM generate_series(1, 1000) g;
INSERT INTO orders SELECT g, 1 + g % 1000, g * 1.5, 1 + g % 7, NULL FROM generate_series(1, 2000) g;
INSERT INTO audit_log SELECT g, 'entry ' || g FROM generate_series(1, 50) g;
INSERT INTO app.events SELECT g, 'kind' || (g % 5), NULL FROM generate_series(1, 300) g;
ANALYZE;
