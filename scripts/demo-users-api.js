// The demo's users API, versions v1 and v2, as a migration's `api.module`: the adapters between the two
// shapes and an example call for the upgrade guide. The application imports this same module, so the
// guide's examples and the running service convert with the same code.
//   v1: { id, name, email }          v2: { id, firstName, lastName, emailAddress }
// v1 → v2 → v1 is the identity for names of words separated by single spaces (what v1 clients send).

/** A v1 name split as the migration's split-column does: the first word, and the rest (or null). */
function splitName(name) {
  const text = typeof name === 'string' ? name : '';
  const space = text.indexOf(' ');
  return space < 0 ? { firstName: text, lastName: null } : { firstName: text.slice(0, space), lastName: text.slice(space + 1) || null };
}

/** v2 → v1 of one user. */
function userToV1(u) {
  if (u === null || typeof u !== 'object' || Array.isArray(u)) return u;
  const { firstName, lastName, emailAddress, ...rest } = u;
  return { ...rest, name: [firstName, lastName].filter((p) => p !== null && p !== undefined && p !== '').join(' '), email: emailAddress };
}

/** v1 → v2 of one user (a request body). */
function userToV2(u) {
  if (u === null || typeof u !== 'object' || Array.isArray(u)) return u;
  const { name, email, ...rest } = u;
  return { ...rest, ...splitName(name), emailAddress: email };
}

export const adapters = [
  {
    from: 'v1',
    to: 'v2',
    request: (body) => userToV2(body),
    response: (body) => (Array.isArray(body) ? body.map(userToV1) : userToV1(body)),
  },
];

export const examples = [
  {
    title: 'Read a user',
    method: 'GET',
    path: '/users/42',
    response: { id: 42, firstName: 'Grace', lastName: 'Brewster Hopper', emailAddress: 'user42@example.com' },
  },
  {
    title: 'Rename a user',
    method: 'PUT',
    path: '/users/42',
    request: { firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' },
    response: { id: 42, firstName: 'Ada', lastName: 'Lovelace', emailAddress: 'ada@example.com' },
  },
];
