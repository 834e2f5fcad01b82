/** Option parsers shared by every `latchkit` command: a bad value is a usage error (exit 2). */
import { InvalidArgumentError } from 'commander';

export const int = (what: string) => (value: string): number => {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`expected a ${what} (a positive integer), got "${value}"`);
  return Number(value);
};

export const intList = (what: string) => (value: string): number[] => value.split(',').map((s) => int(what)(s.trim()));

export const yesNo = (value: string): boolean => {
  if (/^(yes|on|true|1)$/i.test(value)) return true;
  if (/^(no|off|false|0)$/i.test(value)) return false;
  throw new InvalidArgumentError(`expected yes or no, got "${value}"`);
};

/** Resolves on SIGINT or SIGTERM: how long-running commands (serve, pms watch) wait to stop. */
export function untilSignal(): Promise<void> {
  return new Promise((resolveStop) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolveStop();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** "doors to sync: 1, 2"; past 10 doors a count and the first 10 ids (an import can touch thousands). */
export const changedDoors = (doors: number[]): string =>
  doors.length === 0
    ? 'no door sets change'
    : doors.length <= 10
      ? `doors to sync: ${doors.join(', ')}`
      : `${doors.length} doors to sync: ${doors.slice(0, 10).join(', ')}, …`;
