/**
 * Payload types of the API, taken from the server's own view functions and world types (type
 * imports only: nothing of the server reaches the bundle), so the console cannot drift from what
 * the server sends.
 */
import type * as V from '../../src/views.js';
import type * as FV from '../../src/flows/views.js';
import type { DoorState, HeldCredential } from '../../src/world/door-views.js';

export type { DoorState, HeldCredential };
export type Person = ReturnType<typeof V.personView>;
export type Grant = ReturnType<typeof V.grantView>;
export type Key = ReturnType<typeof V.keyView>;
export type Property = ReturnType<typeof V.propertyView>;
export type Activity = ReturnType<typeof V.activityView>;
export type Suggestion = ReturnType<typeof FV.suggestionView>;
export type Alert = ReturnType<typeof FV.alertView>;

export interface Me {
  tokenId: number;
  name: string;
  role: string;
  keyManagement: boolean;
  propertyId: number | null;
}

export interface AttemptOutcome {
  doorId: number;
  outcome: 'granted' | 'denied';
  reason: string | null;
  credentialKind: string | null;
  holder: number | null;
  personId: number | null;
}

/** One message of the live event stream (GET /properties/{id}/events). */
export interface StreamMessage {
  id: number;
  kind: 'attempt' | 'visit' | 'sync' | 'door' | 'access' | 'activity' | 'clock' | 'gap';
  at: string;
  propertyId: number | null;
  [field: string]: unknown;
}
