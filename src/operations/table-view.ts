import { quoteLiteral } from '../db/quote.js';

/**
 * A DO block giving the view `viewSql` every privilege other roles hold on the
 * table `tableSql`, so applications that are not the owner keep their access
 * when the name they use becomes a view over the table (rename-table, drop-table).
 */
export function copyGrantsSql(tableSql: string, viewSql: string): string {
  const body = `DECLARE g record;
BEGIN
  FOR g IN
    SELECT a.privilege_type, a.is_grantable, CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(r.rolname) END AS grantee
      FROM pg_class c CROSS JOIN LATERAL aclexplode(c.relacl) a LEFT JOIN pg_roles r ON r.oid = a.grantee
     WHERE c.oid = to_regclass(${quoteLiteral(tableSql)}) AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT %s ON %s TO %s%s', g.privilege_type, ${quoteLiteral(viewSql)}, g.grantee,
                   CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
END`;
  return `DO ${quoteLiteral(body)}`;
}
