/**
 * Link-layer timing model and the central profiles (ios, android, gateway).
 *
 * Sources for each profile value are listed in simulator/RADIO.md ("Profiles"). The airtime
 * formulas follow Bluetooth Core 5.x Vol 6 Part B §2.1 (packet format) and §4.1.1 (T_IFS).
 */
import { badArgument } from './errors.js';

export type Phy = '1M' | '2M';

/** Parameters that decide latency and throughput on a link. */
export interface LinkProfile {
  /** Connection interval chosen by the central's controller (ms, multiple of 1.25). */
  connectionIntervalMs: number;
  phy: Phy;
  /** LL maximum payload octets per data PDU (27 without Data Length Extension, up to 251). */
  dataLength: number;
  /** Most packet exchanges the central allows per connection event (Infinity: bounded by the interval). */
  packetsPerEvent: number;
  /** ATT MTU the central asks for in its Exchange MTU request. */
  mtu: number;
  /** Supervision timeout; undefined means "what the host asked for in LE Create Connection". */
  supervisionTimeoutMs?: number | undefined;
  /** How long the controller keeps trying to connect before reporting failure (modelled ms). */
  connectTimeoutMs: number;
  /** HCI LE ACL buffers the controller reports to its host (LE Read Buffer Size). */
  aclBuffers: number;
}

export const PROFILE_NAMES = ['ios', 'android', 'gateway'] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

export const PROFILES: Readonly<Record<ProfileName, Readonly<LinkProfile>>> = Object.freeze({
  ios: Object.freeze({
    connectionIntervalMs: 15,
    phy: '1M',
    dataLength: 251,
    packetsPerEvent: 5,
    mtu: 185,
    supervisionTimeoutMs: undefined,
    connectTimeoutMs: 20_000,
    aclBuffers: 8,
  }),
  android: Object.freeze({
    connectionIntervalMs: 7.5,
    phy: '2M',
    dataLength: 251,
    packetsPerEvent: Infinity,
    mtu: 517,
    supervisionTimeoutMs: undefined,
    connectTimeoutMs: 20_000,
    aclBuffers: 8,
  }),
  gateway: Object.freeze({
    connectionIntervalMs: 30,
    phy: '1M',
    dataLength: 251,
    packetsPerEvent: 6,
    mtu: 247,
    supervisionTimeoutMs: undefined,
    connectTimeoutMs: 20_000,
    aclBuffers: 8,
  }),
});

/** Inter frame space between packets of an exchange (µs). */
export const T_IFS_US = 150;

/**
 * Airtime of one LL data PDU in µs: preamble, access address, 2-byte header, payload, CRC.
 * 1M: (1 + 4 + 2 + n + 3) bytes at 8 µs; 2M: (2 + 4 + 2 + n + 3) bytes at 4 µs.
 */
export function pduAirtimeUs(phy: Phy, payloadBytes: number): number {
  return phy === '1M' ? (10 + payloadBytes) * 8 : (11 + payloadBytes) * 4;
}

/** Airtime of one exchange: central PDU, T_IFS, peripheral PDU, T_IFS (µs). */
export function exchangeAirtimeUs(phy: Phy, centralPayload: number, peripheralPayload: number): number {
  return pduAirtimeUs(phy, centralPayload) + T_IFS_US + pduAirtimeUs(phy, peripheralPayload) + T_IFS_US;
}

/**
 * Best case application throughput of a PHY (bit/s): ATT Write Commands of 244 bytes (MTU 247) in
 * 251-byte LL PDUs, sent back to back, each answered by an empty PDU, with no gap between
 * connection events. This is the "theoretical limit" the benchmark compares against.
 */
export function theoreticalThroughputBps(phy: Phy): number {
  const attPayload = 244;
  return (attPayload * 8) / (exchangeAirtimeUs(phy, attPayload + 3 + 4, 0) / 1e6);
}

/**
 * Throughput the model predicts for write-without-response of `attPayload`-byte values on a
 * steady link (bit/s): whole L2CAP frames per LL PDU when they fit, exchanges per event capped by
 * `packetsPerEvent` and by what fits in one interval.
 */
export function predictedWriteCommandThroughputBps(p: LinkProfile, attPayload: number): number {
  const l2capBytes = attPayload + 3 + 4;
  const fragments: number[] = [];
  for (let left = l2capBytes; left > 0; left -= p.dataLength) fragments.push(Math.min(left, p.dataLength));
  const intervalUs = p.connectionIntervalMs * 1000;
  // Walk one event at a time until the pattern repeats (at most `fragments.length` events).
  let exchangesPerEvent = 0;
  let used = 0;
  const exchangeUs = exchangeAirtimeUs(p.phy, Math.max(...fragments), 0);
  while (exchangesPerEvent < p.packetsPerEvent && used + exchangeUs <= intervalUs - T_IFS_US) {
    used += exchangeUs;
    exchangesPerEvent++;
  }
  exchangesPerEvent = Math.max(1, exchangesPerEvent);
  const bytesPerEvent = (exchangesPerEvent / fragments.length) * attPayload;
  return (bytesPerEvent * 8) / (intervalUs / 1e6);
}

export type ProfileInput = ProfileName | (Partial<LinkProfile> & { base?: ProfileName });

/** Resolves a profile name or a partial override (on top of `base`, default `ios`) and checks ranges. */
export function resolveProfile(input: ProfileInput | undefined, fallback: ProfileName = 'ios'): LinkProfile {
  if (input === undefined) return { ...PROFILES[fallback] };
  if (typeof input === 'string') {
    if (!(PROFILE_NAMES as readonly string[]).includes(input)) {
      throw badArgument('profile', `one of ${PROFILE_NAMES.join(', ')}`, input);
    }
    return { ...PROFILES[input] };
  }
  if (typeof input !== 'object' || input === null) throw badArgument('profile', 'a profile name or an object', input);
  const { base, ...overrides } = input;
  const resolved = { ...resolveProfile(base ?? fallback), ...stripUndefined(overrides) };
  if ('supervisionTimeoutMs' in overrides) resolved.supervisionTimeoutMs = overrides.supervisionTimeoutMs;
  validateLinkProfile(resolved, 'profile');
  return resolved;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}

export function validateLinkProfile(p: Partial<LinkProfile>, what: string): void {
  const { connectionIntervalMs, phy, dataLength, packetsPerEvent, mtu, supervisionTimeoutMs, connectTimeoutMs, aclBuffers } = p;
  if (connectionIntervalMs !== undefined) {
    const units = connectionIntervalMs / 1.25;
    if (!Number.isFinite(connectionIntervalMs) || units < 6 || units > 3200 || Math.abs(units - Math.round(units)) > 1e-9) {
      throw badArgument(`${what}.connectionIntervalMs`, 'a multiple of 1.25 between 7.5 and 4000', connectionIntervalMs);
    }
  }
  if (phy !== undefined && phy !== '1M' && phy !== '2M') throw badArgument(`${what}.phy`, '"1M" or "2M"', phy);
  if (dataLength !== undefined && (!Number.isInteger(dataLength) || dataLength < 27 || dataLength > 251)) {
    throw badArgument(`${what}.dataLength`, 'an integer between 27 and 251', dataLength);
  }
  if (packetsPerEvent !== undefined && !(packetsPerEvent === Infinity || (Number.isInteger(packetsPerEvent) && packetsPerEvent >= 1))) {
    throw badArgument(`${what}.packetsPerEvent`, 'an integer >= 1 or Infinity', packetsPerEvent);
  }
  if (mtu !== undefined && (!Number.isInteger(mtu) || mtu < 23 || mtu > 517)) {
    throw badArgument(`${what}.mtu`, 'an integer between 23 and 517', mtu);
  }
  if (supervisionTimeoutMs !== undefined && (!Number.isFinite(supervisionTimeoutMs) || supervisionTimeoutMs < 100 || supervisionTimeoutMs > 32_000)) {
    throw badArgument(`${what}.supervisionTimeoutMs`, 'a number between 100 and 32000', supervisionTimeoutMs);
  }
  if (connectTimeoutMs !== undefined && (!Number.isFinite(connectTimeoutMs) || connectTimeoutMs <= 0)) {
    throw badArgument(`${what}.connectTimeoutMs`, 'a positive number', connectTimeoutMs);
  }
  if (aclBuffers !== undefined && (!Number.isInteger(aclBuffers) || aclBuffers < 1 || aclBuffers > 255)) {
    throw badArgument(`${what}.aclBuffers`, 'an integer between 1 and 255', aclBuffers);
  }
}
