import declaration from '../component.json';
import { parseDatabaseUrl } from './database-url';
import { runComponent } from '@veza/component-runtime/runtime';
import { createApiServer } from './server';

const db = parseDatabaseUrl(process.env.DATABASE_URL);
if ('error' in db) {
  process.stderr.write(`veza-api: ${db.error}\n`);
  process.exit(2);
}

void runComponent(declaration.name, declaration.run.port, (cfg) => createApiServer({ ...cfg, databaseUrl: db.url }));
