import type { FastifyInstance } from 'fastify';
import type { AppContext } from '../app.js';
import { registerMetaRoutes } from './meta.js';
import { registerPropertyRoutes } from './properties.js';
import { registerPeopleRoutes } from './people.js';
import { registerCredentialRoutes } from './credentials.js';
import { registerActivityRoutes } from './activity.js';
import { registerCsvImportRoutes } from './csv-import.js';
import { registerPmsRoutes } from './pms.js';
import { registerSyncRoutes } from './sync.js';
import { registerSimulateRoutes } from './simulate.js';
import { registerEventRoutes } from './events.js';

export function registerRoutes(app: FastifyInstance, c: AppContext): void {
  registerMetaRoutes(app, c);
  registerPropertyRoutes(app, c);
  registerPeopleRoutes(app, c);
  registerCredentialRoutes(app, c);
  registerActivityRoutes(app, c);
  registerCsvImportRoutes(app, c);
  registerPmsRoutes(app, c);
  registerSyncRoutes(app, c);
  registerSimulateRoutes(app, c);
  registerEventRoutes(app, c);
}
