import type { ServeApp } from '../context.js';
import { mountActionRoutes } from './actions.js';
import { mountFleetRoutes } from './fleets.js';
import { mountReadRoutes } from './reads.js';

/** Mount the JSON API: the read routes (no token) and the actions (token or signed-in session). */
export function mountApi(app: ServeApp): void {
  mountReadRoutes(app);
  mountFleetRoutes(app);
  mountActionRoutes(app);
}
