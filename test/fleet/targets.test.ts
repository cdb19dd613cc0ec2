import { describe, expect, it } from 'vitest';
import { isFerryError } from '../../src/errors.js';
import { canaryIds, failureBudgetOf, fleetTargets, targetIdentity } from '../../src/fleet/targets.js';
import { parseConfig } from '../../src/project/config.js';

const fleetOf = (fleet: Record<string, unknown>) => {
  const config = parseConfig(
    JSON.stringify({ environments: { ctl: { url: 'postgres://u@h/ctl' }, tenants: { fleet: { control: 'ctl', ...fleet } } } }),
    'ferry.config.json',
  );
  const f = config.environments.tenants?.fleet;
  if (!f) throw new Error('no fleet');
  return f;
};

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (err) {
    if (isFerryError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('fleet targets', () => {
  it('identifies a database by its URL without password, host case or the default port', () => {
    const a = targetIdentity('postgres://app:secret@DB.example.com/t1?sslmode=require');
    const b = targetIdentity('postgresql://app@db.example.com:5432/t1');
    expect(a).toEqual({ id: 'postgres://app@db.example.com:5432/t1', database: 't1' });
    expect(b).toEqual(a);
  });

  it('refuses duplicates after normalization, naming the database and how often it is listed', () => {
    const f = fleetOf({ targets: { urls: [] } });
    const r = refusal(() => fleetTargets('tenants', f, ['postgres://u:pw@h/a', 'postgres://u@H:5432/a', 'postgres://u@h/b']));
    expect(r.code).toBe('E_CONFIG');
    expect(r.message).toContain('postgres://u@h:5432/a (2 times)');
    expect(r.message).not.toContain('pw');
  });

  it('refuses an empty fleet and URLs that are not PostgreSQL, naming them with the password hidden', () => {
    const f = fleetOf({ targets: { urls: [] } });
    expect(refusal(() => fleetTargets('tenants', f, [])).message).toContain('has no databases');
    const r = refusal(() => fleetTargets('tenants', f, ['mysql://root:hunter2@h/db', 'postgres://u@h/ok', 'nonsense']));
    expect(r.code).toBe('E_CONFIG');
    expect(r.message).toContain('"mysql://root:***@h/db"');
    expect(r.message).toContain('"nonsense"');
    expect(r.message).not.toContain('hunter2');
  });

  it("gives passwordEnv's password to every URL without one", () => {
    const f = fleetOf({ targets: { urls: [] }, passwordEnv: 'FLEET_PW' });
    const t = fleetTargets('tenants', f, ['postgres://u@h/a', 'postgres://u:own@h/b'], { FLEET_PW: 's3' });
    expect(t.map((x) => x.password)).toEqual(['s3', undefined]);
    expect(refusal(() => fleetTargets('tenants', f, ['postgres://u@h/a'], {})).message).toContain('$FLEET_PW');
  });

  it('finds canaries by database name or URL, and refuses one that is not in the fleet', () => {
    const f = fleetOf({ targets: { urls: [] } });
    const t = fleetTargets('tenants', f, ['postgres://u@h/a', 'postgres://u@h/b']);
    expect(canaryIds('tenants', ['b', 'postgres://u:x@h/a'], t)).toEqual(['postgres://u@h:5432/b', 'postgres://u@h:5432/a']);
    expect(refusal(() => canaryIds('tenants', ['zz'], t)).message).toContain('canary "zz"');
  });

  it('reads the budget as a count or a share of the fleet', () => {
    expect(failureBudgetOf(3, 200)).toBe(3);
    expect(failureBudgetOf('2%', 200)).toBe(4);
    expect(failureBudgetOf('2%', 10)).toBe(0);
  });

  it('refuses a fleet environment that also names a url, and defaults the fleet fields', () => {
    const bad = () => parseConfig(JSON.stringify({ environments: { x: { url: 'postgres://h/d', fleet: { targets: { urls: [] } } } } }), 'f');
    expect(refusal(bad).code).toBe('E_CONFIG');
    const f = fleetOf({ targets: { urls: [] } });
    expect(f).toMatchObject({ concurrency: 8, canaries: [], failureBudget: 0, lease: '60s' });
    expect(f.waves).toEqual([{ count: 1 }, { percent: 5 }, { percent: 25 }, { percent: 50 }, { percent: 100 }]);
  });
});
