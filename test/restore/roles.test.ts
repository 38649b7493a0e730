import { describe, expect, test } from 'vitest';
import { createRoleStatements, rolesInSql } from '../../ops/lib/targets/roles.js';

describe('roles a dump needs', () => {
  test('owners and grantees, quoted or not; never PUBLIC, never words inside rows', () => {
    const sql = [
      'ALTER TABLE public.metrics OWNER TO postgres;',
      'ALTER VIEW public.metrics_hourly OWNER TO "Grafana Reader";',
      'GRANT SELECT ON TABLE public.metrics TO aetherlens_backup;',
      'GRANT SELECT(user_id) ON TABLE public.users TO aetherlens_readonly;',
      'GRANT SELECT,INSERT,DELETE,UPDATE ON TABLE public.devices TO aetherlens_app WITH GRANT OPTION;',
      'GRANT USAGE ON SCHEMA public TO PUBLIC;',
      'REVOKE ALL ON SCHEMA public FROM "we""ird";',
      'ALTER DEFAULT PRIVILEGES FOR ROLE owner_role IN SCHEMA public GRANT SELECT ON TABLES TO aetherlens_readonly;',
      "INSERT INTO public.alerts VALUES (1, 'GRANT ALL ON x TO mallory;');",
      "	GRANT ALL ON y TO eve;",
    ].join('\n');
    expect(rolesInSql(sql)).toEqual(['Grafana Reader', 'aetherlens_app', 'aetherlens_backup', 'aetherlens_readonly', 'owner_role', 'postgres', 'we"ird']);
  });

  test('created as group roles without login, names quoted', () => {
    expect(createRoleStatements(['aetherlens_app', 'we"ird'])).toEqual(['CREATE ROLE "aetherlens_app" NOLOGIN;', 'CREATE ROLE "we""ird" NOLOGIN;']);
  });
});
