/**
 * Migration 10: weekly schedules on keys and on grants (the lock enforces them offline; see
 * protocol WeeklySchedule). A schedule is three columns, all null (no schedule: any time inside
 * the window) or all set:
 * - `schedule_days`: weekday bitmask, bit 0 = Monday … bit 6 = Sunday (1..127);
 * - `schedule_from` / `schedule_to`: minutes after local midnight, 0 <= from < to <= 1440
 *   (the lock does not support a schedule across midnight).
 * A grant's schedule, when set, overrides its key's.
 */
export const WEEKLY_SCHEDULES_VERSION = 10;

const columns = (table: string): string => `
ALTER TABLE ${table} ADD COLUMN schedule_days INTEGER CHECK (schedule_days BETWEEN 1 AND 127);
ALTER TABLE ${table} ADD COLUMN schedule_from INTEGER CHECK (schedule_from BETWEEN 0 AND 1439);
ALTER TABLE ${table} ADD COLUMN schedule_to INTEGER CHECK (schedule_to BETWEEN 1 AND 1440);`;

export const WEEKLY_SCHEDULES_SCHEMA = `${columns('keys')}
${columns('grants')}`;
