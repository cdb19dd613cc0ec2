/** The comments of an SQL text, skipping string literals, quoted identifiers and dollar-quoted bodies. */
export function sqlComments(sql: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      out.push(sql.slice(i + 2, end === -1 ? sql.length : end));
      i = end === -1 ? sql.length : end;
    } else if (c === '/' && next === '*') {
      let depth = 1;
      let j = i + 2;
      while (j < sql.length && depth > 0) {
        if (sql[j] === '/' && sql[j + 1] === '*') {
          depth++;
          j += 2;
        } else if (sql[j] === '*' && sql[j + 1] === '/') {
          depth--;
          j += 2;
        } else j++;
      }
      out.push(sql.slice(i + 2, depth === 0 ? j - 2 : j));
      i = j;
    } else if (c === "'" || c === '"') {
      const escapes = c === "'" && /[eE]/.test(sql[i - 1] ?? '');
      let j = i + 1;
      while (j < sql.length) {
        if (escapes && sql[j] === '\\') j += 2;
        else if (sql[j] === c && sql[j + 1] === c) j += 2;
        else if (sql[j] === c) break;
        else j++;
      }
      i = j + 1;
    } else if (c === '$' && !/[\w$]/.test(sql[i - 1] ?? '')) {
      const tag = /^\$([A-Za-z_][\w]*)?\$/.exec(sql.slice(i))?.[0];
      if (!tag) {
        i++;
        continue;
      }
      const end = sql.indexOf(tag, i + tag.length);
      i = end === -1 ? sql.length : end + tag.length;
    } else i++;
  }
  return out;
}

/** The rules a statement's comments disable, each with the reason given (after ` -- `); `all` disables every rule. */
export function disabledByComments(text: string): Map<string, string | undefined> {
  const out = new Map<string, string | undefined>();
  for (const comment of sqlComments(text)) {
    const m = /ferry-lint-disable\b(.*)/s.exec(comment);
    if (!m) continue;
    const rest = (m[1] ?? '').trim();
    const cut = rest.indexOf('--');
    const list = (cut === -1 ? rest : rest.slice(0, cut)).replace(/\*\/$/, '');
    const reason = cut === -1 ? undefined : rest.slice(cut + 2).trim() || undefined;
    const rules = list.split(/[\s,]+/).filter((r) => /^[a-z0-9][a-z0-9-]*$/.test(r));
    for (const r of rules.length ? rules : ['all']) out.set(r, reason);
  }
  return out;
}
