import type { ApiModule, VersionAdapter } from '../../../src/compat/index.js';

/**
 * The seed's example adapter: v1 users have `name` and `email`, v2 users `firstName`, `lastName` and
 * `emailAddress`. A v1 name is split at its first space (`"Ada King Lovelace"` → `Ada` / `King Lovelace`);
 * a v2 name is joined with one space, an empty part left out. Other fields pass through.
 *
 * Round-trip domain (v1 → v2 → v1 is the identity): v1 bodies whose `name` neither starts with a space nor
 * ends in its first space (`" Ada"` and `"Ada "` lose that space; `"Ada  Lovelace"` and `"Ada Lovelace "` keep
 * theirs), and that carry none of v2's keys. The other way (v2 → v1 → v2): a non-empty `firstName` without
 * spaces and a `lastName` that does not start with a space.
 */

type Body = Record<string, unknown>;
const isBody = (v: unknown): v is Body => typeof v === 'object' && v !== null && !Array.isArray(v);

function up(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(up);
  if (!isBody(body)) return body;
  const { name, email, ...rest } = body;
  const out: Body = { ...rest };
  if (typeof name === 'string') {
    const space = name.indexOf(' ');
    out.firstName = space < 0 ? name : name.slice(0, space);
    out.lastName = space < 0 ? '' : name.slice(space + 1);
  }
  if (email !== undefined) out.emailAddress = email;
  return out;
}

function down(body: unknown): unknown {
  if (Array.isArray(body)) return body.map(down);
  if (!isBody(body)) return body;
  const { firstName, lastName, emailAddress, ...rest } = body;
  const out: Body = { ...rest };
  if (firstName !== undefined || lastName !== undefined) out.name = [firstName, lastName].filter((p) => typeof p === 'string' && p !== '').join(' ');
  if (emailAddress !== undefined) out.email = emailAddress;
  return out;
}

export const usersAdapter: VersionAdapter = { from: 'v1', to: 'v2', request: up, response: down };

export const usersModule: ApiModule = {
  adapters: [usersAdapter],
  examples: [{ method: 'GET', path: '/users/7', response: { id: 7, firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' } }],
};
