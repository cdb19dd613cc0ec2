import { expect, it } from 'vitest';
import { PEOPLE, peopleMigration } from '../helpers/checks.js';
import { forEachDriver } from '../helpers/databases.js';
import { createProject, runFerry, runFerryJson } from '../helpers/project.js';

interface VerifyJson {
  migrations: {
    checks: { check: string; ok: boolean; dataErrors: number }[];
    dataErrors: { total: number; perCheckSum: number; tables: { table: string; distinct: number }[] };
  }[];
}
interface HealthJson {
  matrix: { metrics: { metric: string; value: number | null; colour: string }[] };
}
interface StatusJson {
  migrations: { id: string; dataErrors: number }[];
}

forEachDriver('data errors counted once per row', (suite) => {
  it('two overlapping checks finding the same 3 corrupted rows are 3 data errors (not 6) in verify, status and the health matrix', async () => {
    const target = await suite.fresh();
    const p = createProject(target);
    peopleMigration(p, { rows: 1_200 });
    expect((await runFerry(p.root, ['up'])).code).toBe(0);
    const db = await target.open();
    try {
      // Three changed names: the diff (names-match) and the checksum (people-data) both find them; the row count still agrees.
      await db.query(`UPDATE people SET first_name = first_name || 'x' WHERE id IN (5, 300, 999)`);
    } finally {
      await db.close();
    }

    const v = await runFerryJson<VerifyJson>(p.root, ['verify', PEOPLE, '--full']);
    expect(v.code).toBe(12);
    const m = v.json.migrations[0];
    expect(new Map(m?.checks.map((c) => [c.check, c.dataErrors]))).toEqual(
      new Map([
        ['row-count', 0],
        ['names-match', 3],
        ['people-data', 3],
        ['people-schema', 0],
      ]),
    );
    expect(m?.dataErrors).toMatchObject({ total: 3, perCheckSum: 6, tables: [{ table: 'people', distinct: 3 }] });
    const human = await runFerry(p.root, ['verify', PEOPLE]);
    expect(human.stdout).toContain('data errors: 3 (6 by check: rows found by several checks of one table count once)');

    const status = await runFerryJson<StatusJson>(p.root, ['status']);
    expect(status.json.migrations.find((x) => x.id === PEOPLE)?.dataErrors).toBe(3);

    // 3 is yellow (thresholds 1 / 5); the 6 counted before turned the matrix red.
    const health = await runFerryJson<HealthJson>(p.root, ['health', PEOPLE]);
    const data = health.json.matrix.metrics.find((x) => x.metric === 'dataErrors');
    expect(data).toMatchObject({ value: 3, colour: 'yellow' });
  });
});
