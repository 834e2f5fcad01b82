/** Property management flows: CSV import (seed 000), User Sync (003), Automated Access (002). */
export { TEMPLATE_COLUMNS, MAX_IMPORT_ROWS, csvTemplate, readImportCsv, type CsvRow, type CsvCells, type CsvField } from './csv-file.js';
export * from './csv-import.js';
export * from './notifications.js';
export * from './pms/feed.js';
export * from './pms/integration.js';
export * from './pms/user-sync.js';
export * from './pms/automated-access.js';
export * from './pms/alerts.js';
export * from './pms/sync.js';
export * from './pms/scheduler.js';
export { SimulatedPms, type SimResident, type SimFault } from './pms/simulated.js';
export * from './views.js';
