import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from '../model/base.js';
import { personDailyDoorcode } from '../model/credentials.js';

/**
 * The welcome-message outbox (the `notifications` table). The gateway has no mail transport:
 * whatever sends mail (or a manager, or a test) reads the outbox here and marks messages sent.
 * The text is rendered when read, from the person and property as they are then, so a renamed
 * resident is greeted by their current name.
 */

export interface Notification {
  id: number;
  propertyId: number;
  personId: number | null;
  kind: 'welcome';
  email: string;
  createdAt: number;
  sentAt: number | null;
  subject: string;
  body: string;
}

/** Queues the DOOR welcome message for a person (invites queue their own; imports add one for existing people). */
export function queueWelcome(db: Db, propertyId: number, personId: number, email: string, at: number): number {
  return run(db, "INSERT INTO notifications (property_id, person_id, kind, email, created_at) VALUES (?, ?, 'welcome', ?, ?)", propertyId, personId, email, at)
    .lastInsertRowid;
}

/** A notification as stored, with what its text is rendered from. */
interface Row extends Omit<Notification, 'subject' | 'body'> {
  firstName: string | null;
  propertyName: string;
  /** 'doorcode' for a doorcode-only invitee (no app); null when the person is gone. */
  accessType: 'app' | 'doorcode' | null;
}

const SELECT = `SELECT n.id, n.property_id AS propertyId, n.person_id AS personId, n.kind, n.email, n.created_at AS createdAt,
  n.sent_at AS sentAt, p.first_name AS firstName, pr.name AS propertyName, p.access_type AS accessType
  FROM notifications n JOIN properties pr ON pr.id = n.property_id LEFT JOIN people p ON p.id = n.person_id`;

function render(r: Row): Notification {
  const { firstName, propertyName, accessType, ...rest } = r;
  const hello = firstName ? `Hi ${firstName},` : 'Hello,';
  if (accessType === 'doorcode') {
    const body = [
      hello,
      '',
      `You have been given access at ${propertyName}.`,
      '',
      'You do not need an app: you open your doors with a daily doorcode, a 6-digit code that changes every day at midnight (local time).',
      `1. Each day's code is sent to this email address (${r.email}) with the doors it opens; your property manager can also tell you today's code.`,
      '2. Enter the code on the keypad of the door. It works from the day your access starts, on the doors of your keys.',
      '3. Use only the code for today: yesterday\'s code no longer opens the door.',
    ].join('\n');
    return { ...rest, subject: `Welcome to ${propertyName}: your daily doorcode`, body };
  }
  const body = [
    hello,
    '',
    `You have been given access at ${propertyName}.`,
    '',
    `1. Install the DOOR App on your phone and sign in with this email address (${r.email}).`,
    '2. Your keys appear in the app once your access starts; if a start date was set, the app shows it.',
    '3. To unlock, open the app near a Latch device and tap the door. The first unlock in Bluetooth range also syncs the door.',
    '',
    'Your doorcode and keycard, if you have them, work once the door has synced.',
  ].join('\n');
  return { ...rest, subject: `Welcome to ${propertyName}: set up the DOOR App`, body };
}

export interface NotificationQuery {
  personId?: number;
  unsentOnly?: boolean;
  limit?: number;
  offset?: number;
}

const NOTIFICATION_WHERE = 'WHERE n.property_id = ? AND (? IS NULL OR n.person_id = ?) AND (? = 0 OR n.sent_at IS NULL)';
const notificationParams = (propertyId: number, q: NotificationQuery): unknown[] => [propertyId, q.personId ?? null, q.personId ?? null, q.unsentOnly ? 1 : 0];

export function listNotifications(db: Db, propertyId: number, q: NotificationQuery = {}): Notification[] {
  return all<Row>(db, `${SELECT} ${NOTIFICATION_WHERE} ORDER BY n.id LIMIT ? OFFSET ?`, ...notificationParams(propertyId, q), q.limit ?? 100, q.offset ?? 0).map(render);
}

/** How many messages listNotifications would list without a limit. */
export function countNotifications(db: Db, propertyId: number, q: Omit<NotificationQuery, 'limit' | 'offset'> = {}): number {
  return one<{ n: number }>(db, `SELECT count(*) AS n FROM notifications n ${NOTIFICATION_WHERE}`, ...notificationParams(propertyId, q))!.n;
}

export function getNotification(db: Db, id: number): Notification {
  const r = one<Row>(db, `${SELECT} WHERE n.id = ?`, id);
  if (!r) throw new GatewayError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
  return render(r);
}

/** Marks a message handed to the mail transport; marking twice keeps the first time. */
export function markNotificationSent(db: Db, id: number, ctx: Ctx = {}): Notification {
  return tx(db, () => {
    getNotification(db, id);
    run(db, 'UPDATE notifications SET sent_at = coalesce(sent_at, ?) WHERE id = ?', nowOf(ctx), id);
    return getNotification(db, id);
  });
}

/** One person's daily-code message for a local day, rendered (see dailyCodeMessages). */
export interface DailyCodeMessage {
  propertyId: number;
  personId: number;
  email: string;
  date: string;
  code: string;
  doorIds: number[];
  subject: string;
  body: string;
}

/**
 * The daily-code messages of a property for one local day (default today in the property's
 * time): one for each person with a daily doorcode and at least one door it opens, naming the
 * code and the doors. Deterministic, so rendering the same day twice gives the same messages.
 *
 * Not yet queued in the outbox: the notifications table only admits kind 'welcome' (a CHECK
 * in the schema), so storing them needs a migration; see FLOWS.md "Gaps".
 */
export function dailyCodeMessages(db: Db, propertyId: number, date?: string, ctx: Ctx = {}): DailyCodeMessage[] {
  const prop = one<{ name: string }>(db, 'SELECT name FROM properties WHERE id = ?', propertyId);
  if (!prop) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${propertyId} does not exist`);
  const people = all<{ id: number; firstName: string; email: string }>(
    db,
    'SELECT id, first_name AS firstName, email FROM people WHERE property_id = ? AND daily_doorcode = 1 AND revoked_at IS NULL ORDER BY id',
    propertyId,
  );
  const out: DailyCodeMessage[] = [];
  for (const p of people) {
    const d = personDailyDoorcode(db, p.id, date, ctx);
    if (d.doorIds.length === 0) continue;
    const names = doorNames(db, d.doorIds);
    const body = [
      p.firstName ? `Hi ${p.firstName},` : 'Hello,',
      '',
      `Your doorcode at ${prop.name} for ${d.date} is ${d.code}.`,
      '',
      `It opens: ${names.join(', ')}.`,
      'Enter it on the keypad of the door. It works for this day only (local time); tomorrow you get a new one.',
    ].join('\n');
    out.push({ propertyId, personId: p.id, email: p.email, date: d.date, code: d.code, doorIds: d.doorIds, subject: `Your doorcode at ${prop.name} for ${d.date}`, body });
  }
  return out;
}

function doorNames(db: Db, doorIds: number[]): string[] {
  return doorIds.map((id) => one<{ name: string }>(db, 'SELECT name FROM doors WHERE id = ?', id)?.name ?? `door ${id}`);
}
