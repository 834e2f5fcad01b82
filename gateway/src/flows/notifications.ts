import type { Db } from '../store/db.js';
import { GatewayError } from '../errors.js';
import { all, nowOf, one, run, tx, type Ctx } from '../model/base.js';
import { dateOfLocalDay, localDayOfDate, personDailyDoorcode, todayAt } from '../model/credentials.js';
import { propertyZone } from '../model/properties.js';
import { localToInstant } from '../time-zone.js';

/**
 * The message outbox (the `notifications` table): welcome messages, and each day's daily-code
 * message for doorcode-only people (kind `daily`, one per person per local day; migration 11).
 * The gateway has no mail transport: whatever sends mail (or a manager, or a test) reads the
 * outbox here and marks messages sent. The text is rendered when read, from the person and
 * property as they are then, so a renamed resident is greeted by their current name, and a
 * daily code is derived again rather than stored.
 */

export interface Notification {
  id: number;
  propertyId: number;
  personId: number | null;
  kind: 'welcome' | 'daily';
  /** The local day (YYYY-MM-DD, property time zone) a `daily` message is for; null for a welcome. */
  localDay: string | null;
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

const SELECT = `SELECT n.id, n.property_id AS propertyId, n.person_id AS personId, n.kind, n.local_day AS localDay, n.email, n.created_at AS createdAt,
  n.sent_at AS sentAt, p.first_name AS firstName, pr.name AS propertyName, p.access_type AS accessType
  FROM notifications n JOIN properties pr ON pr.id = n.property_id LEFT JOIN people p ON p.id = n.person_id`;

function render(db: Db, r: Row): Notification {
  const { firstName, propertyName, accessType, ...rest } = r;
  if (r.kind === 'daily') {
    const text = r.personId === null || r.localDay === null ? null : dailyText(db, r.personId, r.localDay);
    return text
      ? { ...rest, subject: text.subject, body: text.body }
      : // The person's daily code was turned off, or no key of theirs opens a door that day any more.
        { ...rest, subject: `Withdrawn: doorcode at ${propertyName} for ${r.localDay}`, body: 'This message was withdrawn: the access it announced no longer exists. Do not send it.' };
  }
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
  kind?: 'welcome' | 'daily';
  unsentOnly?: boolean;
  limit?: number;
  offset?: number;
}

const NOTIFICATION_WHERE = 'WHERE n.property_id = ? AND (? IS NULL OR n.person_id = ?) AND (? = 0 OR n.sent_at IS NULL) AND (? IS NULL OR n.kind = ?)';
const notificationParams = (propertyId: number, q: NotificationQuery): unknown[] => [
  propertyId,
  q.personId ?? null,
  q.personId ?? null,
  q.unsentOnly ? 1 : 0,
  q.kind ?? null,
  q.kind ?? null,
];

/**
 * A message as shown to a reader who may not see doorcodes (no Key Management): a daily
 * message keeps its subject (the day, no code) and loses its body.
 */
export function withoutCode(n: Notification): Notification {
  return n.kind === 'daily' ? { ...n, body: 'The body holds a daily doorcode: it is shown to Key Management tokens only.' } : n;
}

export function listNotifications(db: Db, propertyId: number, q: NotificationQuery = {}): Notification[] {
  return all<Row>(db, `${SELECT} ${NOTIFICATION_WHERE} ORDER BY n.id LIMIT ? OFFSET ?`, ...notificationParams(propertyId, q), q.limit ?? 100, q.offset ?? 0).map((r) => render(db, r));
}

/** How many messages listNotifications would list without a limit. */
export function countNotifications(db: Db, propertyId: number, q: Omit<NotificationQuery, 'limit' | 'offset'> = {}): number {
  return one<{ n: number }>(db, `SELECT count(*) AS n FROM notifications n ${NOTIFICATION_WHERE}`, ...notificationParams(propertyId, q))!.n;
}

export function getNotification(db: Db, id: number): Notification {
  const r = one<Row>(db, `${SELECT} WHERE n.id = ?`, id);
  if (!r) throw new GatewayError('NOTIFICATION_NOT_FOUND', `notification ${id} does not exist`);
  return render(db, r);
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

/** The first and last-plus-one Unix minute of a local date in the property's zone (23 or 25 hours across a change). */
function localDayBounds(db: Db, propertyId: number, date: string): { start: number; end: number } {
  const zone = propertyZone(db, propertyId);
  const day = localDayOfDate(date);
  return {
    start: localToInstant(zone, day * 86_400_000, 'up') / 60_000,
    end: localToInstant(zone, (day + 1) * 86_400_000, 'up') / 60_000,
  };
}

/**
 * Doors a person's daily code opens on a local date: the doors of their keys that allow
 * doorcodes, through grants whose window overlaps that day and whose weekly schedule (the
 * grant's own, else its key's, as the compiler reads it) includes that local weekday. A message
 * naming a door the code cannot open that day would send the person to a keypad that refuses it.
 */
function dailyDoorsOn(db: Db, personId: number, propertyId: number, date: string): number[] {
  const { start, end } = localDayBounds(db, propertyId, date);
  // Schedule bit 0 is Monday (protocol WeeklySchedule); getUTCDay() is 0 for Sunday.
  const weekdayBit = 1 << ((new Date(`${date}T00:00:00Z`).getUTCDay() + 6) % 7);
  return all<{ id: number }>(
    db,
    `SELECT DISTINCT kd.door_id AS id FROM grants g JOIN keys k ON k.id = g.key_id JOIN key_doors kd ON kd.key_id = k.id
      WHERE g.person_id = ? AND k.doorcodes_disabled = 0
        AND (g.start_min IS NULL OR g.start_min < ?) AND (g.end_min IS NULL OR g.end_min > ?)
        AND coalesce(CASE WHEN g.schedule_days IS NULL THEN k.schedule_days ELSE g.schedule_days END & ?, 1) != 0
      ORDER BY kd.door_id`,
    personId,
    end,
    start,
    weekdayBit,
  ).map((r) => r.id);
}

/** A person's daily message for a local date, or null: no daily code, or no door it opens that day. */
function dailyText(db: Db, personId: number, date: string): Omit<DailyCodeMessage, 'propertyId' | 'personId' | 'email' | 'date'> | null {
  const p = one<{ propertyId: number; firstName: string; daily: number; propertyName: string }>(
    db,
    'SELECT p.property_id AS propertyId, p.first_name AS firstName, p.daily_doorcode AS daily, pr.name AS propertyName FROM people p JOIN properties pr ON pr.id = p.property_id WHERE p.id = ?',
    personId,
  );
  if (!p || p.daily !== 1) return null;
  const doorIds = dailyDoorsOn(db, personId, p.propertyId, date);
  if (doorIds.length === 0) return null;
  const { code } = personDailyDoorcode(db, personId, date);
  const body = [
    p.firstName ? `Hi ${p.firstName},` : 'Hello,',
    '',
    `Your doorcode at ${p.propertyName} for ${date} is ${code}.`,
    '',
    `It opens: ${doorNames(db, doorIds).join(', ')}.`,
    'Enter it on the keypad of the door. It works for this day only (local time); tomorrow you get a new one.',
  ].join('\n');
  return { code, doorIds, subject: `Your doorcode at ${p.propertyName} for ${date}`, body };
}

/** People of a property with a daily doorcode (not revoked), in id order. */
function dailyPeople(db: Db, propertyId: number): { id: number; email: string }[] {
  const prop = one(db, 'SELECT 1 FROM properties WHERE id = ?', propertyId);
  if (!prop) throw new GatewayError('PROPERTY_NOT_FOUND', `property ${propertyId} does not exist`);
  return all(db, 'SELECT id, email FROM people WHERE property_id = ? AND daily_doorcode = 1 AND revoked_at IS NULL ORDER BY id', propertyId);
}

/** A local date as given (checked), or today in the property's time zone. */
function dateOrToday(db: Db, propertyId: number, date: string | undefined, ctx: Ctx): string {
  return date === undefined ? dateOfLocalDay(todayAt(db, propertyId, ctx)) : dateOfLocalDay(localDayOfDate(date));
}

/**
 * The daily-code messages of a property for one local day (default today in the property's
 * time zone): one for each person with a daily doorcode whose grant lets it open a door that
 * day, naming the code and those doors. Deterministic, so rendering a day twice gives the same
 * messages. queueDailyMessages puts the same messages in the outbox.
 */
export function dailyCodeMessages(db: Db, propertyId: number, date?: string, ctx: Ctx = {}): DailyCodeMessage[] {
  const day = dateOrToday(db, propertyId, date, ctx);
  const out: DailyCodeMessage[] = [];
  for (const p of dailyPeople(db, propertyId)) {
    const text = dailyText(db, p.id, day);
    if (text) out.push({ propertyId, personId: p.id, email: p.email, date: day, ...text });
  }
  return out;
}

/**
 * Queues the day's daily-code messages in the outbox (kind `daily`): one per person per local
 * day, whoever asks and however often (a unique index makes a repeat a no-op), so the serve
 * scheduler, a restart and a manual run never send a person two. Returns how many were new.
 */
export function queueDailyMessages(db: Db, propertyId: number, date?: string, ctx: Ctx = {}): { date: string; queued: number; already: number } {
  return tx(db, () => {
    const day = dateOrToday(db, propertyId, date, ctx);
    dailyPeople(db, propertyId); // PROPERTY_NOT_FOUND
    // The scheduler calls this every minute: only people without a message for the day are
    // looked at, and only for whether their code opens a door that day. The row stores no text
    // (listNotifications renders it), so nothing is rendered here.
    const pending = all<{ id: number; email: string }>(
      db,
      `SELECT p.id, p.email FROM people p
        WHERE p.property_id = ? AND p.daily_doorcode = 1 AND p.revoked_at IS NULL
          AND NOT EXISTS (SELECT 1 FROM notifications n WHERE n.person_id = p.id AND n.kind = 'daily' AND n.local_day = ?)
        ORDER BY p.id`,
      propertyId,
      day,
    );
    let queued = 0;
    for (const p of pending) {
      if (dailyDoorsOn(db, p.id, propertyId, day).length === 0) continue;
      const r = run(
        db,
        "INSERT INTO notifications (property_id, person_id, kind, email, created_at, local_day) VALUES (?, ?, 'daily', ?, ?, ?) ON CONFLICT DO NOTHING",
        propertyId,
        p.id,
        p.email,
        nowOf(ctx),
        day,
      );
      queued += r.changes;
    }
    const already = one<{ n: number }>(
      db,
      `SELECT count(*) AS n FROM people p WHERE p.property_id = ? AND p.daily_doorcode = 1 AND p.revoked_at IS NULL
          AND EXISTS (SELECT 1 FROM notifications n WHERE n.person_id = p.id AND n.kind = 'daily' AND n.local_day = ?)`,
      propertyId,
      day,
    )!.n - queued;
    return { date: day, queued, already };
  });
}

/**
 * Queues today's daily messages for every property (each in its own time zone), on a timer:
 * what `latchkit serve` runs. A tick soon after each property's local midnight queues its
 * day; every later tick that day finds them queued. Rounds never overlap; errors are reported
 * per property and the others go on.
 */
export class DailyMessageScheduler {
  private timer: ReturnType<typeof setInterval> | null = null;

  constructor(
    private readonly o: { db: Db; ctx?: Ctx; onResult?: (r: { propertyId: number; date?: string; queued?: number; error?: Error }) => void },
  ) {}

  tick(): { propertyId: number; date: string; queued: number }[] {
    const out: { propertyId: number; date: string; queued: number }[] = [];
    for (const { id } of all<{ id: number }>(this.o.db, 'SELECT id FROM properties ORDER BY id')) {
      try {
        const r = queueDailyMessages(this.o.db, id, undefined, this.o.ctx ?? {});
        out.push({ propertyId: id, date: r.date, queued: r.queued });
        if (r.queued > 0) this.o.onResult?.({ propertyId: id, date: r.date, queued: r.queued });
      } catch (err) {
        this.o.onResult?.({ propertyId: id, error: err as Error });
      }
    }
    return out;
  }

  /** Tick now and then every `intervalMs` (default one minute). */
  start(intervalMs = 60_000): void {
    if (this.timer !== null) return;
    this.tick();
    this.timer = setInterval(() => this.tick(), intervalMs);
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }
}

function doorNames(db: Db, doorIds: number[]): string[] {
  return doorIds.map((id) => one<{ name: string }>(db, 'SELECT name FROM doors WHERE id = ?', id)?.name ?? `door ${id}`);
}
