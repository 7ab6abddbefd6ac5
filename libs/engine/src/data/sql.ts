import { VezaError } from '../log/errors';

/**
 * SQL quoting for the few statements the data tier sends. The script sets
 * standard_conforming_strings first, so a backslash in a literal is just a
 * backslash whatever the server's default.
 */
function quoteIdent(name: string): string {
  checkText(name);
  return `"${name.replace(/"/g, '""')}"`;
}

function quoteLiteral(text: string): string {
  checkText(text);
  return `'${text.replace(/'/g, "''")}'`;
}

function checkText(text: string): void {
  if (text.includes('\0')) throw new VezaError('a SQL name or value holds a NUL byte', 'PostgreSQL cannot store NUL in text; choose another value', 'INVALID_INPUT');
}

/**
 * psql input that makes the app role and its database exist, idempotently:
 * the role is created if absent and always gets the current password (so a
 * rotated password takes effect), the database is created if absent and
 * always belongs to the role. Sent on stdin: the password never reaches argv.
 */
export function ensureRoleAndDatabaseSql(user: string, database: string, password: string): string {
  const role = quoteIdent(user);
  const db = quoteIdent(database);
  return [
    'SET standard_conforming_strings = on;',
    `SELECT ${quoteLiteral(`CREATE ROLE ${role} LOGIN`)} WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = ${quoteLiteral(user)})\\gexec`,
    `ALTER ROLE ${role} WITH LOGIN PASSWORD ${quoteLiteral(password)};`,
    `SELECT ${quoteLiteral(`CREATE DATABASE ${db} OWNER ${role}`)} WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_database WHERE datname = ${quoteLiteral(database)})\\gexec`,
    `ALTER DATABASE ${db} OWNER TO ${role};`,
    '',
  ].join('\n');
}
