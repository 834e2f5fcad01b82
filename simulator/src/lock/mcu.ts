/**
 * The lock MCU's time: what the firmware's computation and flash writes cost on the part a real
 * lock runs on, so the radio model can hold the lock's answers back by that much.
 *
 * The host CPU that runs the simulator is 20–100x faster than a 64 MHz Cortex-M4, so without
 * this the modelled unlock is both too slow (the radio) and too flattering (the lock answers
 * instantly). The meter wraps the two things every expensive firmware step goes through: the
 * crypto provider (Ed25519, SHA-256, HMAC) and the flash device (program, erase). Work that
 * does not go through the provider (the set body's XChaCha20-Poly1305 open and the X25519 of a
 * commissioning) is charged by the session from the message it applied.
 *
 * Figures and their sources are in simulator/LOCK.md ("Lock MCU time"); a profile is data so a
 * different part is one object, not a code change.
 */
import type { CryptoProvider } from '@latchkit/protocol';
import { badArgument } from '../errors.js';
import type { FlashDevice, FlashRegion } from './flash.js';

/** Time per operation on one lock MCU (cycles at `clockMhz`, flash in µs). */
export interface McuProfile {
  readonly name: string;
  readonly clockMhz: number;
  /** One Ed25519 verify (decompression, SHA-512 of the message, double scalar mult). */
  readonly ed25519VerifyCycles: number;
  /** One X25519 scalar multiplication. */
  readonly x25519Cycles: number;
  /**
   * One Ed25519 sign (SHA-512 of the key and the message twice, one fixed-base scalar
   * multiplication). The receipt the lock signs after each set or delta.
   */
  readonly ed25519SignCycles: number;
  /** SHA-256 per byte hashed (also HMAC's inner and outer blocks, 64 bytes each). */
  readonly sha256CyclesPerByte: number;
  /** XChaCha20-Poly1305 per byte opened or sealed. */
  readonly aeadCyclesPerByte: number;
  /** Programming one 32-bit word of flash (the CPU stalls while the NVMC writes). */
  readonly flashWordWriteUs: number;
  /** Erasing one flash page. */
  readonly flashPageEraseUs: number;
  /** Erase unit the page time is for, bytes. */
  readonly flashPageBytes: number;
}

export const MCU_PROFILES = {
  /** nRF52840: Cortex-M4F at 64 MHz, internal NOR flash with 4 KiB pages (LOCK.md gives the sources). */
  nrf52840: Object.freeze({
    name: 'nrf52840',
    clockMhz: 64,
    ed25519VerifyCycles: 2_000_000,
    x25519Cycles: 563_310,
    // Upper bound (LOCK.md): signing's fixed-base scalar multiplication costs less than X25519's
    // variable-base ladder, plus five SHA-512 blocks (key expansion, nonce, challenge over a
    // short receipt) at twice the SHA-256 cycles per byte (64-bit words on a 32-bit core).
    ed25519SignCycles: 563_310 + 5 * 128 * 2 * 195,
    sha256CyclesPerByte: 195,
    aeadCyclesPerByte: 41.23 * 16,
    flashWordWriteUs: 41,
    flashPageEraseUs: 85_000,
    flashPageBytes: 4096,
  }),
} as const satisfies Record<string, McuProfile>;

export type McuProfileName = keyof typeof MCU_PROFILES;
export type McuProfileInput = McuProfileName | McuProfile | null;

/** Resolves a profile name or object; `null` turns the cost model off (a lock that costs nothing, as before). */
export function mcuProfile(input: McuProfileInput | undefined): McuProfile | null {
  if (input === null) return null;
  if (input === undefined) return MCU_PROFILES.nrf52840;
  if (typeof input === 'string') {
    const p = (MCU_PROFILES as Record<string, McuProfile>)[input];
    if (!p) throw badArgument('mcu profile', `one of ${Object.keys(MCU_PROFILES).join(', ')} or null`, input);
    return p;
  }
  for (const k of ['clockMhz', 'ed25519VerifyCycles', 'ed25519SignCycles', 'x25519Cycles', 'sha256CyclesPerByte', 'aeadCyclesPerByte', 'flashWordWriteUs', 'flashPageEraseUs', 'flashPageBytes'] as const) {
    if (!(typeof input[k] === 'number' && Number.isFinite(input[k]) && input[k] >= 0)) throw badArgument(`mcu profile ${k}`, 'a finite number >= 0', input[k]);
  }
  if (!(input.clockMhz > 0 && input.flashPageBytes > 0)) throw badArgument('mcu profile', 'clockMhz and flashPageBytes > 0', input);
  return input;
}

/** What the meter counted, by operation (ms of MCU time). */
export interface McuBreakdown {
  ed25519Verify: number;
  ed25519Sign: number;
  x25519: number;
  sha256: number;
  hmac: number;
  aead: number;
  flashWrite: number;
  flashErase: number;
  /**
   * Idle compaction of the change journal (storage.ts): its flash writes, erases and hashes,
   * done with no link up, so no answer waits for it (counted here, not in the buckets above).
   */
  idleCompaction: number;
}

const SHA256_BLOCK = 64;

function emptyBreakdown(): McuBreakdown {
  return { ed25519Verify: 0, ed25519Sign: 0, x25519: 0, sha256: 0, hmac: 0, aead: 0, flashWrite: 0, flashErase: 0, idleCompaction: 0 };
}

/** SHA-256 blocks for a message of `n` bytes (padding adds 9 bytes at least). */
function sha256Blocks(n: number): number {
  return Math.ceil((n + 9) / SHA256_BLOCK);
}

/**
 * Accumulates modelled MCU time. `take()` hands out what accumulated since the last take (the
 * delay of the next answer on the air); `total` and `breakdown` keep counting for reports.
 */
export class McuMeter {
  private pendingMs = 0;
  total = 0;
  readonly breakdown: McuBreakdown = emptyBreakdown();

  constructor(readonly profile: McuProfile) {}

  private cyclesMs(cycles: number): number {
    return cycles / (this.profile.clockMhz * 1000);
  }

  /** Inside `offAir` (idle work): charges go to `idleCompaction` and to no answer. */
  private idle = false;

  charge(kind: keyof McuBreakdown, ms: number): void {
    this.total += ms;
    if (this.idle) {
      this.breakdown.idleCompaction += ms;
      return;
    }
    this.pendingMs += ms;
    this.breakdown[kind] += ms;
  }

  /**
   * Run work the firmware does with the radio idle (the change journal's compaction): its time
   * counts in `total` and `breakdown.idleCompaction`, and the next answer does not wait for it.
   */
  offAir<T>(work: () => T): T {
    if (this.idle) return work();
    this.idle = true;
    try {
      return work();
    } finally {
      this.idle = false;
    }
  }

  ed25519Verify(): void {
    this.charge('ed25519Verify', this.cyclesMs(this.profile.ed25519VerifyCycles));
  }

  ed25519Sign(): void {
    this.charge('ed25519Sign', this.cyclesMs(this.profile.ed25519SignCycles));
  }

  x25519(): void {
    this.charge('x25519', this.cyclesMs(this.profile.x25519Cycles));
  }

  sha256(bytes: number): void {
    this.charge('sha256', this.cyclesMs(sha256Blocks(bytes) * SHA256_BLOCK * this.profile.sha256CyclesPerByte));
  }

  /** HMAC-SHA256: inner hash over key block + message, outer hash over key block + 32 bytes. */
  hmac(messageBytes: number): void {
    const blocks = sha256Blocks(SHA256_BLOCK + messageBytes) + sha256Blocks(SHA256_BLOCK + 32);
    this.charge('hmac', this.cyclesMs(blocks * SHA256_BLOCK * this.profile.sha256CyclesPerByte));
  }

  aead(bytes: number): void {
    this.charge('aead', this.cyclesMs(bytes * this.profile.aeadCyclesPerByte));
  }

  flashProgram(bytes: number): void {
    this.charge('flashWrite', (Math.ceil(bytes / 4) * this.profile.flashWordWriteUs) / 1000);
  }

  flashErase(bytes: number): void {
    this.charge('flashErase', (Math.ceil(bytes / this.profile.flashPageBytes) * this.profile.flashPageEraseUs) / 1000);
  }

  /** MCU ms accumulated since the last call (what the next answer on the air waits for). */
  take(): number {
    const ms = this.pendingMs;
    this.pendingMs = 0;
    return ms;
  }

  /** Forget pending time without sending it anywhere (work no answer waits for). */
  discard(): void {
    this.pendingMs = 0;
  }
}

/** The provider the firmware sees: same answers, each expensive call charged to `meter`. */
export function meteredCrypto(inner: CryptoProvider, meter: McuMeter): CryptoProvider {
  const provider: CryptoProvider = {
    name: inner.name,
    sha256: (data) => {
      meter.sha256(data.length);
      return inner.sha256(data);
    },
    hmacSha256: (key, data) => {
      meter.hmac(data.length);
      return inner.hmacSha256(key, data);
    },
    ed25519PublicKey: (seed) => inner.ed25519PublicKey(seed),
    ed25519Sign: (seed, message) => {
      meter.ed25519Sign();
      return inner.ed25519Sign(seed, message);
    },
    ed25519Verify: (signature, message, publicKey) => {
      meter.ed25519Verify();
      return inner.ed25519Verify(signature, message, publicKey);
    },
    randomBytes: (n) => inner.randomBytes(n),
  };
  const keyed = inner.hmacSha256Keyed?.bind(inner);
  if (keyed) {
    // Keyed once, each message then costs its own blocks; the key blocks are charged per message
    // all the same, as a firmware without precomputed HMAC state would.
    provider.hmacSha256Keyed = (key) => {
      const mac = keyed(key);
      return (data) => {
        meter.hmac(data.length);
        return mac(data);
      };
    };
  }
  return provider;
}

/** The flash the firmware sees: same cells, each program and erase charged to `meter`. */
export class MeteredFlash implements FlashDevice {
  constructor(
    readonly inner: FlashDevice,
    private readonly meter: McuMeter,
  ) {}

  size(region: FlashRegion): number {
    return this.inner.size(region);
  }

  read(region: FlashRegion, offset: number, length: number): Uint8Array {
    return this.inner.read(region, offset, length);
  }

  program(region: FlashRegion, offset: number, data: Uint8Array): void {
    this.meter.flashProgram(data.length);
    this.inner.program(region, offset, data);
  }

  erase(region: FlashRegion, offset: number, length: number): void {
    this.meter.flashErase(length);
    this.inner.erase(region, offset, length);
  }

  close(): void {
    (this.inner as FlashDevice & { close?: () => void }).close?.();
  }
}
