/** Radio selection at run time, and isolation of the virtual stacks from the rest of the process. */
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { openRadio, RADIO_ERROR_CODES, RadioError, type Radio } from '@latchkit/simulator';
import { addTestLock, connect } from './helpers.js';

const require = createRequire(import.meta.url);
let radio: Radio | undefined;
afterEach(async () => {
  await radio?.close();
  radio = undefined;
  delete process.env['LATCHKIT_RADIO'];
});

describe('openRadio', () => {
  it("fails plainly on this machine for radio: 'hci' and points to the virtual radio", async () => {
    const error = await openRadio({ radio: 'hci' }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(RadioError);
    expect(error).toMatchObject({ code: 'RADIO_NO_ADAPTER' });
    expect((error as Error).message).toMatch(/No Bluetooth adapter/);
    expect((error as Error).message).toMatch(/radio: 'virtual'/);
  });

  it('reads LATCHKIT_RADIO when no radio is given', async () => {
    process.env['LATCHKIT_RADIO'] = 'hci';
    await expect(openRadio()).rejects.toMatchObject({ code: 'RADIO_NO_ADAPTER' });
    await expect(openRadio({ radio: 'bluetooth' as never })).rejects.toMatchObject({ code: 'RADIO_BAD_ARGUMENT' });
  });

  it('gives the virtual radio by default, with the same add/close surface', async () => {
    radio = await openRadio({ seed: 4 });
    expect(radio.kind).toBe('virtual');
    expect(radio.air).toBeDefined();
    await addTestLock(radio.air!, { name: 'door' });
    const phone = await radio.air!.addCentral();
    const s = await connect(phone, 'door');
    expect((await s.read.readAsync()).toString()).toBe('hello from door');
  });

  it('leaves a plain require of noble and bleno on the real socket', async () => {
    radio = await openRadio({ seed: 5 });
    await radio.addPeripheral();
    await radio.addCentral();
    // No adapter and no Bluetooth socket family here: the published modules fail to load exactly
    // as they would without the virtual radio. If our socket had leaked into them, they would load.
    expect(() => require('@abandonware/noble')).toThrow();
    expect(() => require('@abandonware/bleno')).toThrow();
    // ...and the virtual radio still works after they failed.
    const more = await radio.addPeripheral();
    expect(more.bleno).toBeDefined();
  });
});

describe('error codes', () => {
  it('documents every RadioError code in simulator/RADIO.md', () => {
    const doc = readFileSync(new URL('../../../simulator/RADIO.md', import.meta.url), 'utf8');
    for (const code of RADIO_ERROR_CODES) expect(doc, code).toContain(`\`${code}\``);
  });
});
