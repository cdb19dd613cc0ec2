// Regenerate the docs that come from code: docs/manifest.md (from the zod schemas)
// and the tables of docs/lifecycle.md (from src/workflow/app-guidance.ts).
// Run `npm run docs:generate`; test/docs/*.test.ts fail when these files are stale.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { manifestReference } from '../dist/docs/manifest-reference.js';
import { withLifecycleSections } from '../dist/workflow/lifecycle-doc.js';

const docs = join(import.meta.dirname, '..', 'docs');
writeFileSync(join(docs, 'manifest.md'), manifestReference());
const lifecycle = join(docs, 'lifecycle.md');
writeFileSync(lifecycle, withLifecycleSections(readFileSync(lifecycle, 'utf8')));
console.log('wrote docs/manifest.md and the tables of docs/lifecycle.md');
