import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../../errors.js';
import { systemClock, type Clock } from '../../time.js';
import type { PmsAdapter } from './feed.js';

/**
 * A property management system for tests and demos: residents with lease statuses that a test
 * moves in, moves between units and moves out, served as the feed format either in-process
 * (as a PmsAdapter) or over HTTP on 127.0.0.1. It stands in for Yardi/RealPage/… at the one
 * boundary we do not own, and records every request so tests can prove nothing writes back.
 */

export interface SimResident {
  id: string;
  firstName: string;
  lastName: string;
  email: string;
  phone?: string | null;
  unit?: string | null;
  leaseStatus: string;
  leaseStart?: string | null;
  leaseEnd?: string | null;
  moveIn?: string | null;
  moveOut?: string | null;
  /** ISO 8601 with zone; set by the status helpers from the simulator's clock. */
  statusChangedAt?: string | null;
}

/** What the next pull does instead of answering normally (one-shot unless `sticky`). */
export type SimFault = { kind: 'hang' } | { kind: 'garbage'; body?: string } | { kind: 'http_error'; status: number } | { kind: 'delay'; ms: number };

export class SimulatedPms implements PmsAdapter {
  readonly description = 'simulated PMS';
  readonly residents = new Map<string, SimResident>();
  /** Every HTTP request the server received, in order. */
  readonly requests: { method: string; url: string }[] = [];
  pulls = 0;
  private faults: { fault: SimFault; sticky: boolean }[] = [];
  private readonly now: Clock;

  constructor(opts: { now?: Clock } = {}) {
    this.now = opts.now ?? systemClock;
  }

  private stamp(): string {
    return new Date(this.now()).toISOString();
  }

  /** Adds (or replaces) a resident record as the PMS would hold it. */
  add(r: Omit<SimResident, 'statusChangedAt'> & { statusChangedAt?: string | null }): SimResident {
    const rec: SimResident = { statusChangedAt: this.stamp(), ...r };
    this.residents.set(r.id, rec);
    return rec;
  }

  private get(id: string): SimResident {
    const r = this.residents.get(id);
    if (!r) throw new Error(`simulated PMS has no resident ${id}`);
    return r;
  }

  /** Changes the lease status and stamps the change with the simulator's clock. */
  setStatus(id: string, leaseStatus: string, opts: { stamp?: boolean } = {}): void {
    const r = this.get(id);
    r.leaseStatus = leaseStatus;
    r.statusChangedAt = opts.stamp === false ? null : this.stamp();
  }

  moveIn(id: string): void {
    this.setStatus(id, 'current');
  }

  moveOut(id: string): void {
    this.setStatus(id, 'past');
  }

  changeUnit(id: string, unit: string): void {
    this.get(id).unit = unit;
  }

  update(id: string, patch: Partial<Omit<SimResident, 'id'>>): void {
    Object.assign(this.get(id), patch);
  }

  /** Deleting in the PMS: the record simply stops appearing in the feed. */
  remove(id: string): void {
    this.residents.delete(id);
  }

  fail(fault: SimFault, opts: { sticky?: boolean } = {}): void {
    this.faults.push({ fault, sticky: opts.sticky ?? false });
  }

  clearFaults(): void {
    this.faults = [];
  }

  private nextFault(): SimFault | undefined {
    const f = this.faults[0];
    if (f && !f.sticky) this.faults.shift();
    return f?.fault;
  }

  feed(): { residents: SimResident[] } {
    return { residents: [...this.residents.values()].map((r) => ({ ...r })) };
  }

  async fetchFeed(signal: AbortSignal): Promise<unknown> {
    this.pulls++;
    const fault = this.nextFault();
    if (fault?.kind === 'hang') await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    if (fault?.kind === 'delay') await sleep(fault.ms, signal);
    if (signal.aborted) throw new GatewayError('PMS_TIMEOUT', 'simulated PMS: aborted');
    if (fault?.kind === 'http_error') throw new GatewayError('PMS_FETCH_FAILED', `simulated PMS answered HTTP ${fault.status}`);
    if (fault?.kind === 'garbage') {
      try {
        return JSON.parse(fault.body ?? '<html>maintenance</html>');
      } catch (e) {
        throw new GatewayError('PMS_FEED_INVALID', `simulated PMS: not JSON: ${(e as Error).message}`);
      }
    }
    return this.feed();
  }

  /** Serves the feed at `GET /feed` on 127.0.0.1 (a free port). Other paths are 404. */
  async listen(): Promise<{ url: string; close(): Promise<void> }> {
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      this.requests.push({ method: req.method ?? '', url: req.url ?? '' });
      req.resume();
      if (req.method !== 'GET' || req.url !== '/feed') {
        res.writeHead(req.method === 'GET' ? 404 : 405, { 'content-type': 'text/plain' }).end('no');
        return;
      }
      this.pulls++;
      const fault = this.nextFault();
      const answer = () => {
        if (res.destroyed) return;
        if (fault?.kind === 'http_error') res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('upstream error');
        else if (fault?.kind === 'garbage') res.writeHead(200, { 'content-type': 'application/json' }).end(fault.body ?? '<html>maintenance</html>');
        else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.feed()));
      };
      // A hung PMS accepts the connection and never answers; the gateway's timeout must end it.
      if (fault?.kind === 'hang') return;
      if (fault?.kind === 'delay') setTimeout(answer, fault.ms);
      else answer();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}/feed`,
      close: () =>
        new Promise<void>((resolve) => {
          server.closeAllConnections();
          server.close(() => resolve());
        }),
    };
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
}
