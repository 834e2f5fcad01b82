/**
 * Choosing the radio at run time: `virtual` (default) runs everything on an in-process air;
 * `hci` loads noble and bleno as published, on a real Bluetooth adapter, only when asked.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';
import { createAir, type Air, type AirOptions, type CentralOptions, type PeripheralOptions } from './air.js';
import { badArgument, RadioError } from './errors.js';
import { withEnv, type Bleno, type Noble } from './loader.js';

export type RadioKind = 'virtual' | 'hci';

export interface OpenRadioOptions extends AirOptions {
  /** Default: the LATCHKIT_RADIO environment variable, else 'virtual'. */
  radio?: RadioKind;
  /** `hci` only: adapter index (hciN). Default: the first adapter that is up. */
  deviceId?: number;
}

export interface RadioPeripheral {
  readonly bleno: Bleno;
  readonly address: string;
  close(): Promise<void>;
}

export interface RadioCentral {
  readonly noble: Noble;
  readonly address: string;
  close(): Promise<void>;
}

/** The part of the API that both radios offer. */
export interface Radio {
  readonly kind: RadioKind;
  /** The air behind a virtual radio (topology, faults, capture); undefined for `hci`. */
  readonly air: Air | undefined;
  addPeripheral(options?: PeripheralOptions): Promise<RadioPeripheral>;
  addCentral(options?: CentralOptions): Promise<RadioCentral>;
  close(): Promise<void>;
}

export async function openRadio(options: OpenRadioOptions = {}): Promise<Radio> {
  const kind = options.radio ?? (process.env['LATCHKIT_RADIO'] as RadioKind | undefined) ?? 'virtual';
  if (kind === 'virtual') {
    const air = createAir(options);
    return {
      kind,
      air,
      addPeripheral: (o) => air.addPeripheral(o),
      addCentral: (o) => air.addCentral(o),
      close: () => air.close(),
    };
  }
  if (kind === 'hci') return HciRadio.open(options.deviceId, options.startTimeoutMs ?? 10_000);
  throw badArgument('radio', '"virtual" or "hci"', kind);
}

const require = createRequire(import.meta.url);
const SUGGESTION = "Run without hardware on the virtual radio: openRadio({ radio: 'virtual' }) or LATCHKIT_RADIO=virtual.";

interface NativeSocket {
  getDeviceList?(): Array<{ devId: number | null; devUp: boolean | null }>;
}

class HciRadio implements Radio {
  readonly kind = 'hci' as const;
  readonly air = undefined;
  private blenoTaken = false;

  private constructor(
    private readonly deviceId: number,
    private readonly startTimeoutMs: number,
  ) {}

  static async open(deviceId: number | undefined, startTimeoutMs: number): Promise<HciRadio> {
    if (deviceId !== undefined && (!Number.isInteger(deviceId) || deviceId < 0)) throw badArgument('deviceId', 'an integer >= 0', deviceId);
    let Socket: new () => NativeSocket;
    try {
      Socket = require('@abandonware/bluetooth-hci-socket') as new () => NativeSocket;
    } catch (cause) {
      throw new RadioError(
        'RADIO_NO_ADAPTER',
        `No Bluetooth adapter can be used: the native module @abandonware/bluetooth-hci-socket is not installed or not built (${message(cause)}). ${SUGGESTION}`,
        { cause },
      );
    }
    let devices: Array<{ devId: number | null; devUp: boolean | null }>;
    try {
      devices = new Socket().getDeviceList?.() ?? [];
    } catch (cause) {
      throw new RadioError('RADIO_NO_ADAPTER', `No Bluetooth adapter is available on this machine (${message(cause)}). ${SUGGESTION}`, { cause });
    }
    const up = devices.filter((d) => d.devUp && d.devId !== null && (deviceId === undefined || d.devId === deviceId));
    if (up.length === 0) {
      const which = deviceId === undefined ? 'no adapter is up' : `hci${deviceId} is missing or down`;
      throw new RadioError('RADIO_NO_ADAPTER', `No Bluetooth adapter is available: ${which} (found ${devices.length} adapter(s)). ${SUGGESTION}`);
    }
    return new HciRadio(up[0]!.devId!, startTimeoutMs);
  }

  async addPeripheral(): Promise<RadioPeripheral> {
    // bleno is a singleton bound to one adapter; a second instance needs a second process.
    if (this.blenoTaken) throw badArgument('addPeripheral', 'one peripheral per adapter on the hci radio (bleno is a singleton)', 'a second call');
    this.blenoTaken = true;
    const bleno = withEnv({ BLENO_HCI_DEVICE_ID: String(this.deviceId) }, () => require('@abandonware/bleno') as Bleno);
    const emitter = bleno as unknown as EventEmitter;
    await withEnv({ BLENO_HCI_DEVICE_ID: String(this.deviceId) }, () => this.poweredOn(emitter, 'bleno'));
    return {
      bleno,
      address: (bleno as unknown as { address: string }).address,
      close: async () => {
        emitter.removeAllListeners();
      },
    };
  }

  async addCentral(): Promise<RadioCentral> {
    const make = require('@abandonware/noble/with-custom-binding') as (o: { deviceId: number }) => Noble;
    const noble = make({ deviceId: this.deviceId });
    await this.poweredOn(noble as unknown as EventEmitter, 'noble');
    return {
      noble,
      address: (noble as unknown as { address: string }).address,
      close: async () => (noble as unknown as { stopScanning(): void }).stopScanning(),
    };
  }

  async close(): Promise<void> {}

  private poweredOn(stack: EventEmitter, name: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        stack.removeListener('stateChange', onState);
        reject(new RadioError('RADIO_TIMEOUT', `${name} did not report poweredOn within ${this.startTimeoutMs} ms on hci${this.deviceId}`));
      }, this.startTimeoutMs);
      const onState = (state: string): void => {
        if (state === 'poweredOn') {
          clearTimeout(timer);
          stack.removeListener('stateChange', onState);
          resolve();
        } else if (state === 'unauthorized' || state === 'unsupported') {
          clearTimeout(timer);
          stack.removeListener('stateChange', onState);
          reject(new RadioError('RADIO_NO_ADAPTER', `${name} reports the adapter as ${state} on hci${this.deviceId}. ${SUGGESTION}`));
        }
      };
      stack.on('stateChange', onState);
    });
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
