/** Public API of the virtual BLE radio. See simulator/RADIO.md. */
export {
  Air,
  createAir,
  RawHciDevice,
  VirtualCentral,
  VirtualPeripheral,
  type AirOptions,
  type CentralOptions,
  type Device,
  type Diagnostic,
  type HciDeviceOptions,
  type Measurement,
  type PeripheralOptions,
} from './air.js';
export { openRadio, type OpenRadioOptions, type Radio, type RadioCentral, type RadioKind, type RadioPeripheral } from './open.js';
export { RADIO_ERROR_CODES, RadioError, type RadioErrorCode } from './errors.js';
export { FaultHandle, type DeviceRef, type Direction, type Fault, type FaultFiring, type FaultKind } from './faults.js';
export { Link, type LinkClosure, type LinkParams, type LinkStats, type Side } from './link.js';
export {
  exchangeAirtimeUs,
  pduAirtimeUs,
  predictedWriteCommandThroughputBps,
  PROFILE_NAMES,
  PROFILES,
  resolveProfile,
  theoreticalThroughputBps,
  type LinkProfile,
  type Phy,
  type ProfileInput,
  type ProfileName,
} from './profiles.js';
export { BtsnoopWriter, DATALINK_H4, parseBtsnoop, readBtsnoopFile, type BtsnoopFile, type BtsnoopRecord, type CaptureDirection } from './btsnoop.js';
export { VirtualHciSocket } from './socket.js';
export type { DiagnosticKind, DeviceRole } from './controller.js';
export type { Bleno, Noble } from './loader.js';
export type { Pacing } from './timeline.js';
