import { describe, expect, it } from 'vitest';
import { analyseStatement } from '../../src/lint/index.js';
import { statementsOf } from './fixtures.js';

type Expect = { locks: Record<string, string>; rewrites?: string[] };

const CASES: [string, Expect][] = [
  ['CREATE INDEX i ON users (email)', { locks: { users: 'ShareLock' } }],
  ['CREATE INDEX CONCURRENTLY i ON app.users (email)', { locks: { 'app.users': 'ShareUpdateExclusiveLock' } }],
  ['ALTER TABLE orders VALIDATE CONSTRAINT orders_user_fk', { locks: { orders: 'ShareUpdateExclusiveLock' } }],
  [
    'ALTER TABLE orders ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES users (id) NOT VALID',
    { locks: { orders: 'ShareRowExclusiveLock', users: 'ShareRowExclusiveLock' } },
  ],
  ['ALTER TABLE orders ADD COLUMN coupon_id int REFERENCES coupons', { locks: { orders: 'AccessExclusiveLock', coupons: 'ShareRowExclusiveLock' } }],
  ['CREATE TRIGGER t AFTER INSERT ON users FOR EACH ROW EXECUTE FUNCTION f()', { locks: { users: 'ShareRowExclusiveLock' } }],
  ['ALTER TABLE users ADD COLUMN note text', { locks: { users: 'AccessExclusiveLock' } }],
  ['ALTER TABLE users ADD COLUMN token uuid DEFAULT gen_random_uuid()', { locks: { users: 'AccessExclusiveLock' }, rewrites: ['users'] }],
  ["ALTER TABLE users ADD COLUMN settings jsonb NOT NULL DEFAULT '{}'", { locks: { users: 'AccessExclusiveLock' } }],
  ['ALTER TABLE users ALTER COLUMN age TYPE bigint', { locks: { users: 'AccessExclusiveLock' }, rewrites: ['users'] }],
  ['ALTER TABLE users SET UNLOGGED', { locks: { users: 'AccessExclusiveLock' }, rewrites: ['users'] }],
  ['ALTER TABLE users SET TABLESPACE fast', { locks: { users: 'AccessExclusiveLock' }, rewrites: ['users'] }],
  ['ALTER TABLE users ALTER COLUMN note SET STATISTICS 100', { locks: { users: 'ShareUpdateExclusiveLock' } }],
  ['ALTER TABLE users REPLICA IDENTITY FULL', { locks: { users: 'ExclusiveLock' } }],
  ['VACUUM FULL users', { locks: { users: 'AccessExclusiveLock' }, rewrites: ['users'] }],
  ['VACUUM users', { locks: { users: 'ShareUpdateExclusiveLock' } }],
  ['CLUSTER users USING users_pkey', { locks: { users: 'AccessExclusiveLock' }, rewrites: ['users'] }],
  ['LOCK TABLE users IN SHARE ROW EXCLUSIVE MODE', { locks: { users: 'ShareRowExclusiveLock' } }],
  ['LOCK TABLE users', { locks: { users: 'AccessExclusiveLock' } }],
  ['TRUNCATE users, orders', { locks: { users: 'AccessExclusiveLock', orders: 'AccessExclusiveLock' } }],
  ['DROP INDEX CONCURRENTLY users_email_idx', { locks: { users_email_idx: 'ShareUpdateExclusiveLock' } }],
  ['ALTER INDEX users_email_idx RENAME TO users_mail_idx', { locks: { users_email_idx: 'ShareUpdateExclusiveLock' } }],
  ['UPDATE users SET note = NULL WHERE id = 1', { locks: { users: 'RowExclusiveLock' } }],
  ['REFRESH MATERIALIZED VIEW CONCURRENTLY totals', { locks: { totals: 'ExclusiveLock' } }],
  ['CREATE TABLE fresh (id int, user_id int REFERENCES users (id))', { locks: { users: 'ShareRowExclusiveLock' } }],
  ['SELECT 1', { locks: {} }],
];

describe('lock levels and rewrites per statement', () => {
  it.each(CASES)('%s', async (sql, want) => {
    const [s] = await statementsOf(sql);
    const a = analyseStatement(s as NonNullable<typeof s>);
    expect(Object.fromEntries(a.locks.map((l) => [l.relation, l.mode]))).toEqual(want.locks);
    expect(a.rewrites.map((r) => r.relation)).toEqual(want.rewrites ?? []);
    for (const l of a.locks) expect(l.blocks).not.toMatch(/unknown/);
  });

  it('says a type change rewrites unless binary-coercible, and what each lock blocks', async () => {
    const [s] = await statementsOf('ALTER TABLE users ALTER COLUMN age TYPE bigint');
    const a = analyseStatement(s as NonNullable<typeof s>);
    expect(a.rewrites[0]?.reason).toContain('unless the change is binary-coercible');
    expect(a.locks[0]?.blocks).toBe('blocks all reads and writes');
  });
});
