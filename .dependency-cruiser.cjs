/**
 * ferry's layering, checked by `npm run lint` (depcruise src --config .dependency-cruiser.cjs).
 * docs/architecture.md explains the layers in words; keep the two in step.
 *
 *   faces (src/cli, src/server)  →  src/workflow  →  building blocks  →  state  →  src/db
 *   the SDK (src/sdk)  →  src/db, plus the leaf modules (src/bucket.ts, src/errors.ts, src/sleep.ts, src/duration.ts)
 *   the compat library (src/compat)  →  the SDK, src/db and the leaf modules
 *
 * Leaf modules (src/errors.ts, src/bucket.ts, src/sleep.ts, src/duration.ts) may be imported from every layer, src/db included, and import nothing from src.
 * An exception is a path-specific `pathNot` with a comment naming the import and why it is still there;
 * never widen a rule to make a new import pass.
 */

const FACES = '^src/(cli|server)/';
const WORKFLOW = '^src/workflow/';
const BLOCKS = '^src/(operations|lint|backfill|rollout|health|verify|docs|project|migration|import|check|fleet)/';
// The state store: ferry's own tables (schema, migrations, steps, events) and the queries on them.
const STATE = '^src/state/';
const DB = '^src/db/';
// The thin faces: the CLI's commands and every module of ferry serve.
const THIN = '^src/(cli/commands|server)/';
const LEAVES = '^src/(errors|bucket|sleep|duration)\\.ts$';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Modules import one way: a cycle means a shared type or function belongs in a module both can import.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'workflow-not-faces',
      severity: 'error',
      comment: 'src/workflow is the library every face calls; it never imports a face (src/cli, src/server).',
      from: { path: WORKFLOW },
      to: { path: FACES },
    },
    {
      name: 'blocks-not-up',
      severity: 'error',
      comment: 'A building block never imports the workflow or a face: move the shared piece down into the block (or below).',
      from: { path: BLOCKS },
      to: { path: [WORKFLOW, FACES] },
    },
    {
      name: 'state-not-up',
      severity: 'error',
      comment: 'The state store imports only itself, src/db and the leaf modules.',
      from: { path: STATE },
      to: {
        path: '^src/',
        pathNot: [STATE, DB, LEAVES],
      },
    },
    {
      name: 'db-not-up',
      severity: 'error',
      comment: 'src/db imports only src/db, the leaf modules and node/npm modules: it knows nothing of the layers above.',
      from: { path: DB },
      to: { path: '^src/', pathNot: [DB, LEAVES] },
    },
    {
      name: 'sdk-only-db',
      severity: 'error',
      comment: 'The SDK ships inside applications: it imports only src/sdk, src/db and the leaf modules.',
      from: { path: '^src/sdk/' },
      to: { path: '^src/', pathNot: ['^src/sdk/', DB, LEAVES] },
    },
    {
      name: 'compat-only-sdk-db',
      comment: 'The compat library (ferry/compat) ships inside applications beside the SDK: it imports only src/compat, the SDK, src/db and the leaf modules.',
      severity: 'error',
      from: { path: '^src/compat/' },
      to: { path: '^src/', pathNot: ['^src/compat/', '^src/sdk/', DB, LEAVES] },
    },
    {
      name: 'leaves-are-leaves',
      severity: 'error',
      comment: 'The leaf modules (src/errors.ts, src/bucket.ts, src/sleep.ts) are imported from every layer, so they import nothing from src.',
      from: { path: LEAVES },
      to: { path: '^src/' },
    },
    {
      name: 'cli-commands-no-db',
      severity: 'error',
      comment: 'A CLI command or a route of ferry serve parses, calls one library function and renders: no SQL, no connections, so no src/db import.',
      from: { path: THIN },
      to: { path: DB },
    },
    {
      name: 'cli-commands-no-state',
      severity: 'error',
      comment: "A CLI command or a route of ferry serve never reads or writes ferry's state tables itself: the library function it calls does (src/workflow).",
      from: { path: THIN },
      to: { path: STATE },
    },
    {
      name: 'cli-commands-no-lock-or-phase',
      severity: 'error',
      comment:
        'A CLI command or a route of ferry serve takes no migration lock (MIGRATION_LOCK_KEY, src/workflow/execute.ts) and moves no phase (transition, src/workflow/lifecycle.ts): the library action does both.',
      from: { path: THIN },
      to: { path: '^src/workflow/(execute|lifecycle)\\.ts$' },
    },
    {
      name: 'nothing-imports-faces',
      severity: 'error',
      comment: 'Only a face imports a face: the library (src/index.ts) and every layer below stay usable without the CLI.',
      from: { path: '^src/', pathNot: FACES },
      to: { path: FACES },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Type-only imports count: a wrong-way `import type` couples the layers just the same.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
