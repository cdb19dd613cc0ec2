import { FerryError } from '../errors.js';
import type { Migration } from '../migration/loader.js';
import { stagesOf } from '../rollout/schedule.js';
import { healthSettingsOf } from './config.js';
import type { ControllerTarget } from './controller.js';

/** The controller's (and the matrix's) view of a loaded migration; E_GATE when it names no flag. */
export function controllerTargetOf(m: Migration): ControllerTarget {
  const flag = m.manifest.flag;
  if (!flag) throw new FerryError('E_GATE', `migration ${m.id} names no flag, so there are no cohorts to compare`, 'add "flag": "<key>" to its manifest');
  return {
    id: m.id,
    flag,
    stages: stagesOf(m.manifest.rollout),
    hasBackfill: m.steps.some((s) => s.kind === 'backfill'),
    checksum: m.checksum,
    include: m.manifest.rollout?.include ?? [],
    exclude: m.manifest.rollout?.exclude ?? [],
    settings: healthSettingsOf(m.manifest.health),
    steps: m.steps.map((s) => ({ id: s.id, irreversible: s.irreversible })),
    pointOfNoReturn: m.manifest.pointOfNoReturn,
  };
}
