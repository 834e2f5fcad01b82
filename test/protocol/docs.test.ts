/**
 * PROTOCOL.md must document every stable name the protocol exposes: each error code with its
 * wire byte (§10), each message type (§3.3), control-point opcode (§9.4), event type and deny
 * reason (§8.1) with its number. A code added to the library without a row in the spec fails here.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DenyReason, EventType, MessageType, Opcode, ProtocolErrorCodes } from '@latchkit/protocol';

const doc = readFileSync(join(import.meta.dirname, '..', '..', 'PROTOCOL.md'), 'utf8');

/** Cells of every Markdown table row, trimmed and without backticks. */
const rows: string[][] = doc
  .split('\n')
  .filter((line) => line.trimStart().startsWith('|'))
  .map((line) => line.split('|').map((cell) => cell.trim().replaceAll('`', '')));

const hex2 = (n: number) => `0x${n.toString(16).padStart(2, '0')}`;

/** True when one table row names `name` in a cell and gives `value` in another. */
function documented(name: string, value: string): boolean {
  return rows.some((cells) => cells.includes(name) && cells.includes(value));
}

function missing(table: Record<string, number>, format: (v: number) => string): string[] {
  return Object.entries(table)
    .filter(([name, v]) => !documented(name, format(v)))
    .map(([name, v]) => `${name} (${format(v)})`);
}

describe('PROTOCOL.md documents every stable protocol name', () => {
  it('error codes with their wire bytes (§10)', () => {
    const wires = Object.fromEntries(Object.entries(ProtocolErrorCodes).map(([code, info]) => [code, info.wire]));
    expect(missing(wires, hex2)).toEqual([]);
  });

  it('message types (§3.3)', () => {
    expect(missing(MessageType, String)).toEqual([]);
  });

  it('control-point opcodes (§9.4)', () => {
    expect(missing(Opcode, hex2)).toEqual([]);
  });

  it('event types and deny reasons (§8.1)', () => {
    expect(missing(EventType, String)).toEqual([]);
    expect(missing(DenyReason, String)).toEqual([]);
  });

  it('every name appears in the text at all', () => {
    const names = [...Object.keys(ProtocolErrorCodes), ...Object.keys(MessageType), ...Object.keys(Opcode), ...Object.keys(EventType), ...Object.keys(DenyReason)];
    expect(names.filter((n) => !doc.includes(n))).toEqual([]);
  });
});

describe('PROTOCOL.md §2.5 lists every domain-separation string', () => {
  it('each latchkit/v1/… string the library hashes or signs has a row with its length and hex', () => {
    const srcDir = join(import.meta.dirname, '..', '..', 'protocol', 'src');
    const used = new Set<string>();
    for (const file of readdirSync(srcDir).filter((f) => f.endsWith('.ts'))) {
      for (const m of readFileSync(join(srcDir, file), 'utf8').matchAll(/'(latchkit\/v1\/[a-z0-9-]+)'/g)) used.add(m[1]!);
    }
    expect(used.size).toBeGreaterThan(8);
    const absent = [...used].filter((text) => !rows.some((cells) => cells.includes(text) && cells.includes(String(text.length)) && cells.includes(Buffer.from(text).toString('hex'))));
    expect(absent).toEqual([]);
  });
});
