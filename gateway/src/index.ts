/**
 * @latchkit/gateway: the property backend. Library entry point for the compiler, the sync engine
 * and tests; the HTTP API and CLI are built on the same functions.
 */
export * from './errors.js';
export * from './time.js';
export { openStore, defaultStateDir, STATE_DIR_ENV, DB_FILE_NAME, type Db, type OpenStoreOptions } from './store/db.js';
export { MIGRATIONS, migrate, schemaVersion, appliedMigrations, type Migration } from './store/migrations.js';
export * from './model/index.js';
export * from './views.js';
export { buildApp, type BuildAppOptions } from './api/app.js';
export { buildOpenApi } from './api/openapi.js';
export { buildProgram, runCli, type CliIo } from './cli/main.js';
export * from './compiler/index.js';
export * from './sync/engine.js';
export * from './compiler/rotation.js';
export * from './flows/index.js';
export * from './world/index.js';
