/** Dollar-quote `body` with a tag that does not occur in it. */
export function dollarQuote(body: string): string {
  let tag = '$ferry$';
  for (let i = 1; body.includes(tag); i++) tag = `$ferry${i}$`;
  return `${tag}${body}${tag}`;
}

/** An anonymous PL/pgSQL block; `body` is the text between BEGIN and END. */
export const doBlock = (body: string, declare = ''): string => `DO ${dollarQuote(`\n${declare ? `DECLARE ${declare}\n` : ''}BEGIN\n${body}\nEND\n`)}`;
