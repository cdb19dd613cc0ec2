/** Quote an SQL identifier (table, column, schema, database name) for PostgreSQL. */
export function quoteIdent(name: string): string {
  if (name.length === 0) throw new Error('empty identifier');
  if (name.includes('\0')) throw new Error('identifier contains a NUL byte');
  return `"${name.replaceAll('"', '""')}"`;
}

/** Quote a possibly schema-qualified name given as separate parts. */
export function quoteQualified(...parts: string[]): string {
  return parts.map(quoteIdent).join('.');
}

/** Quote a string literal; for the few places (SET, DDL) where parameters are not allowed. */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('literal contains a NUL byte');
  return `'${value.replaceAll("'", "''")}'`;
}
