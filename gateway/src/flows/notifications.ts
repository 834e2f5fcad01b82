import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from '../model/base.js';

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
}

const SELECT = `SELECT n.id, n.property_id AS propertyId, n.person_id AS personId, n.kind, n.email, n.created_at AS createdAt,
  n.sent_at AS sentAt, p.first_name AS firstName, pr.name AS propertyName
  FROM notifications n JOIN properties pr ON pr.id = n.property_id LEFT JOIN people p ON p.id = n.person_id`;

function render(r: Row): Notification {
  const { firstName, propertyName, ...rest } = r;
  const hello = firstName ? `Hi ${firstName},` : 'Hello,';
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

export function listNotifications(db: Db, propertyId: number, q: NotificationQuery = {}): Notification[] {
  return all<Row>(
    db,
    `${SELECT} WHERE n.property_id = ? AND (? IS NULL OR n.person_id = ?) AND (? = 0 OR n.sent_at IS NULL) ORDER BY n.id LIMIT ? OFFSET ?`,
    propertyId,
    q.personId ?? null,
    q.personId ?? null,
    q.unsentOnly ? 1 : 0,
    q.limit ?? 100,
    q.offset ?? 0,
  ).map(render);
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
