/** Every simulator error code is documented in simulator/LOCK.md, with its wire byte where it has one. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ProtocolError } from '@latchkit/protocol';
import { SimulatorErrorCodes } from '../../../simulator/src/errors.js';

describe('SimulatorError catalogue', () => {
  const doc = readFileSync(new URL('../../../simulator/LOCK.md', import.meta.url), 'utf8');
  for (const [code, { wire }] of Object.entries(SimulatorErrorCodes)) {
    it(`${code} is documented`, () => {
      const row = doc.split('\n').find((l) => l.startsWith(`  | \`${code}\` |`));
      expect(row, `no table row for ${code} in LOCK.md`).toBeDefined();
      expect(row).toContain(wire === null ? '| — |' : `| 0x${wire.toString(16).padStart(2, '0')} |`);
      // A wire byte must mean the same thing to a central as the protocol's code does.
      if (wire !== null) expect(ProtocolError.fromWire(wire).code).not.toBe('MALFORMED');
    });
  }
});
