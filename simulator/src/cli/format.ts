/** Human-readable lines for lock state and events (the CLI's output). */
import type { EventRecord } from '@latchkit/protocol';
import type { LockStateSummary } from '../lock/firmware.js';
import { KIND_BY_CODE } from '../lock/firmware.js';

export function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace('.000Z', 'Z');
}

export function formatEvent(e: EventRecord): string {
  const parts = [`#${e.index}`, isoSeconds(e.time), e.type];
  if (e.kind !== 0) parts.push(KIND_BY_CODE[e.kind] ?? `kind ${e.kind}`);
  if (e.type === 'denied') parts.push(`(${e.reason})`);
  if (e.holder !== 0) parts.push(`holder ${e.holder}`);
  switch (e.type) {
    case 'syncApplied':
      parts.push(`seq ${e.detail}`);
      break;
    case 'syncRejected': {
      // The low byte is the wire status; the rest counts rejections coalesced into this record.
      const more = e.detail >>> 8;
      parts.push(`status 0x${(e.detail & 0xff).toString(16).padStart(2, '0')}${more > 0 ? ` (x${more + 1} in a minute)` : ''}`);
      break;
    }
    case 'lockout':
      parts.push(`after ${e.detail} wrong codes`);
      break;
    case 'clockSet':
      parts.push(`to ${isoSeconds(e.detail)}`);
      break;
    case 'commissioned':
      parts.push(`generation ${e.detail}`);
      break;
    case 'anchorsRotated':
      parts.push(`rotation ${e.detail}`);
      break;
    case 'tamper':
      if (e.detail !== 0) parts.push(`sensor ${e.detail}`);
      break;
    default:
      break;
  }
  return parts.join(' ');
}

export function formatSummary(s: LockStateSummary): string[] {
  const counts = s.counts;
  return [
    `lock        ${s.lockId} (${s.profile}, firmware ${s.firmware})`,
    `commission  ${s.commissioned ? `generation ${s.generation}, ${s.anchors} anchor(s), UTC offset ${s.utcOffset} min${s.offsetTransition ? ` (${s.offsetTransition.offset} min from ${isoSeconds(s.offsetTransition.at)})` : ''}` : 'not commissioned'}`,
    `set         ${s.seq === 0 ? 'none' : `seq ${s.seq}, digest ${s.digest}, issued ${isoSeconds(s.setIssuedAt!)}`}`,
    `credentials ${counts ? `${counts.doorcode + counts.daily + counts.keycard + counts.phone} (doorcode ${counts.doorcode}, daily ${counts.daily}, keycard ${counts.keycard}, phone ${counts.phone}; ${counts.holders} holder rows)` : 'none'}`,
    `clock       ${isoSeconds(s.clock)}`,
    `battery     ${s.battery}%`,
    `bolt        ${s.bolt}${s.lockedOutUntil !== null ? `, keypad locked out until ${isoSeconds(s.lockedOutUntil)}` : ''}`,
    `events      ${s.nextEventIndex - s.oldestEventIndex} kept (#${s.oldestEventIndex}..#${s.nextEventIndex - 1})`,
    `flash       ${s.flash.slot === null ? 'nothing committed' : `slot ${s.flash.slot}, commit generation ${s.flash.generation}, ${s.flash.imageBytes} of ${s.flash.slotBytes} bytes`}${s.boot.fellBack ? ' (this boot fell back to an older commit)' : ''}`,
  ];
}
