/**
 * Every vector in test/vectors/ is opened with the lock state it names and must give the
 * expected result or error code; and the generator must still produce the committed bytes.
 */
import { createHash, createHmac, createPrivateKey, createPublicKey, diffieHellman, hkdfSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CryptoProvider } from '@latchkit/protocol';
import {
  CredentialSet,
  dailyCode,
  decodeEvent,
  decodeLockInfo,
  decodeRequest,
  decodeResponse,
  deviceKeysFromSeed,
  doorcodeKey,
  fromHex,
  keycardKey,
  nobleProvider,
  openAnchorRotation,
  openCommission,
  openReceipt,
  openSetMessage,
  openTimeSync,
  phoneKey,
  ProtocolError,
  Reassembler,
  segment,
  toHex,
  cardResponse,
  unlockSigningInput,
  ticketSigningInput,
  decodeTicketedUnlockResult,
  layoutHash,
  SERVICE_LAYOUT,
  lockTicketMacKey,
  phoneTicketMacKey,
  ticketMac,
  ticketMacInput,
  ed25519SeedToX25519,
  ed25519PublicToX25519,
  x25519PublicKey,
  x25519Shared,
  verifyEventChain,
  BulkReceiver,
  bulkChunks,
  decodeBulkBegin,
  decodeBulkProgress,
  decodeEventsRead,
  decodeUnlockChallenge,
  decodeUnlockResult,
  transferId,
} from '@latchkit/protocol';
import { nodeCryptoProvider } from '@latchkit/protocol/node';
import { buildVectors } from '../../scripts/vectors.js';

const dir = join(import.meta.dirname, '..', 'vectors');
type V = Record<string, any>;
const load = (name: string): V => JSON.parse(readFileSync(join(dir, name), 'utf8'));

function outcome(fn: () => V): V {
  try {
    return { ok: true, ...fn() };
  } catch (e) {
    if (e instanceof ProtocolError) return { error: e.code };
    throw e;
  }
}

const providers: CryptoProvider[] = [nobleProvider, nodeCryptoProvider];

describe.each(providers.map((p) => [p.name, p] as const))('vectors with the %s provider', (_name, provider) => {
  it('sets.json', () => {
    const file = load('sets.json');
    const inp = file.inputs;
    expect(file.vectors.length).toBeGreaterThan(10);
    for (const v of file.vectors) {
      const got = outcome(() => {
        const r = openSetMessage(fromHex(v.message), {
          lockId: fromHex(inp.lockId),
          anchors: inp.anchors.map(fromHex),
          contentKey: fromHex(inp.contentKey),
          seq: v.state.seq,
          current: v.state.currentBody ? CredentialSet.parse(fromHex(v.state.currentBody)) : null,
          entryAcc: v.state.entryAcc ? fromHex(v.state.entryAcc) : null,
          provider,
        });
        const base = { kind: r.kind, seq: r.seq, issuedAt: r.issuedAt, digest: toHex(r.digest), body: toHex(r.set.body), size: r.set.size };
        return r.digestForm === 'entries' ? { ...base, digestForm: r.digestForm, entryAcc: toHex(r.entryAcc!) } : base;
      });
      expect(got, v.name).toEqual(v.expect);
    }
  });

  it('credentials.json', () => {
    const file = load('credentials.json');
    const ik = fromHex(file.inputs.indexKey);
    for (const v of file.vectors) {
      switch (v.kind) {
        case 'doorcode':
          expect(toHex(doorcodeKey(ik, v.code, provider)), v.name).toBe(v.key);
          break;
        case 'keycard':
          expect(toHex(keycardKey(ik, fromHex(v.uid), provider)), v.name).toBe(v.key);
          break;
        case 'phone':
          expect(toHex(phoneKey(ik, fromHex(v.publicKey), provider)), v.name).toBe(v.key);
          break;
        case 'daily':
          expect(dailyCode(fromHex(file.inputs.dailySecret), v.holder, v.day, provider), v.name).toBe(v.code);
          break;
        case 'card-response':
          expect(toHex(cardResponse(fromHex(v.cardKey), fromHex(file.inputs.lockId), fromHex(v.challenge), provider)), v.name).toBe(v.response);
          break;
        case 'phone-unlock': {
          const input = unlockSigningInput(fromHex(file.inputs.lockId), fromHex(v.nonce));
          expect(toHex(input)).toBe(v.signingInput);
          expect(toHex(provider.ed25519Sign(fromHex(v.phoneSeed), input))).toBe(v.signature);
          expect(provider.ed25519Verify(fromHex(v.signature), input, fromHex(v.publicKey))).toBe(true);
          break;
        }
        default:
          throw new Error(`unknown vector kind ${v.kind}`);
      }
    }
  });

  it('lifecycle.json', () => {
    const file = load('lifecycle.json');
    const inp = file.inputs;
    const lockId = fromHex(inp.lockId);
    const device = deviceKeysFromSeed(fromHex(inp.deviceSeed), provider);
    expect(toHex(device.encryptionPublic)).toBe(inp.deviceEncryptionPublic);
    for (const v of file.vectors) {
      const msg = fromHex(v.message);
      const anchors = v.state.anchors ? v.state.anchors.map(fromHex) : null;
      const got = outcome(() => {
        if (v.type === 'commission') {
          const c = openCommission(msg, { lockId, device, anchors, generation: v.state.generation, provider });
          return { anchors: c.anchors.map(toHex), contentKey: toHex(c.contentKey), issuedAt: c.issuedAt, utcOffset: c.utcOffset, generation: c.generation };
        }
        if (v.type === 'rotateAnchors') {
          const r = openAnchorRotation(msg, { lockId, anchors, rotationSeq: v.state.rotationSeq, provider });
          return { anchors: r.anchors.map(toHex), seq: r.seq };
        }
        const t = openTimeSync(msg, { lockId, anchors, provider });
        return { time: t.time, utcOffset: t.utcOffset, ...(t.transition ? { transition: t.transition } : {}) };
      });
      expect(got, v.name).toEqual(v.expect);
    }
  });

  it('audit.json', () => {
    const file = load('audit.json');
    const events = file.vectors.filter((v: V) => v.type === 'event');
    const decoded = events.map((v: V) => decodeEvent(fromHex(v.record)));
    decoded.forEach((e: V, i: number) => expect({ ...e, chain: toHex(e.chain) }).toEqual(events[i].expect));
    const head = decoded[decoded.length - 1];
    verifyEventChain(fromHex(file.inputs.genesis), 0, decoded, { index: head.index, hash: head.chain }, provider);
    for (const v of file.vectors.filter((x: V) => x.type === 'receipt')) {
      const got = outcome(() => {
        const r = openReceipt(fromHex(v.message), { lockId: fromHex(v.lockId ?? '4c4b10000000002a'), devicePublicKey: fromHex(file.inputs.deviceSigningPublic), provider });
        return { seq: r.seq, digest: toHex(r.digest), time: r.time, eventIndex: r.eventIndex, eventHash: toHex(r.eventHash) };
      });
      expect(got, v.name).toEqual(v.expect);
    }
  });

  it('ed25519-rfc8032.json', () => {
    const file = load('ed25519-rfc8032.json');
    for (const v of file.vectors) {
      const seed = fromHex(v.secretKey);
      expect(toHex(provider.ed25519PublicKey(seed)), v.name).toBe(v.publicKey);
      expect(toHex(provider.ed25519Sign(seed, fromHex(v.message))), v.name).toBe(v.signature);
      expect(provider.ed25519Verify(fromHex(v.signature), fromHex(v.message), fromHex(v.publicKey))).toBe(true);
      expect(provider.ed25519Verify(fromHex(v.signature), new Uint8Array([...fromHex(v.message), 0]), fromHex(v.publicKey))).toBe(false);
    }
  });
});

describe('gatt.json', () => {
  it('decodes frames, segments and lock info', () => {
    const file = load('gatt.json');
    for (const v of file.vectors) {
      if (v.type === 'request') {
        const r = decodeRequest(fromHex(v.frame));
        expect({ ...r, payload: toHex(r.payload) }, v.name).toEqual(v.expect);
      } else if (v.type === 'response') {
        const r = decodeResponse(fromHex(v.frame));
        expect({ ...r, payload: toHex(r.payload) }, v.name).toEqual(v.expect);
      } else if (v.type === 'segments') {
        expect(segment(fromHex(v.message), v.mtu).map(toHex)).toEqual(v.segments);
        const ra = new Reassembler();
        let out: Uint8Array | null = null;
        for (const s of v.segments) out = ra.push(fromHex(s));
        expect(toHex(out!)).toBe(v.message);
      } else if (v.type === 'payload') {
        const decoders: Record<string, (b: Uint8Array) => V> = {
          unlockChallenge: decodeUnlockChallenge,
          unlockResult: decodeUnlockResult,
          eventsRead: decodeEventsRead,
          bulkBegin: decodeBulkBegin,
          bulkProgress: decodeBulkProgress,
          ticketedUnlockResult: decodeTicketedUnlockResult,
        };
        const got = decoders[v.codec]!(fromHex(v.value));
        const shown = Object.fromEntries(Object.entries(got).map(([k, x]) => [k, x instanceof Uint8Array ? toHex(x) : x]));
        expect(shown, v.name).toEqual(v.expect);
      } else if (v.type === 'ticketSigningInput') {
        expect(toHex(ticketSigningInput(fromHex(v.lockId), fromHex(v.ticket))), v.name).toBe(v.input);
        expect(nodeCryptoProvider.ed25519Verify(fromHex(v.signature), fromHex(v.input), fromHex(v.publicKey))).toBe(true);
        // The same signature is no answer to a challenge with these bytes (the domains differ).
        expect(nodeCryptoProvider.ed25519Verify(fromHex(v.signature), unlockSigningInput(fromHex(v.lockId), fromHex(v.ticket)), fromHex(v.publicKey))).toBe(false);
      } else if (v.type === 'ticketMac') {
        const [lockId, ticket, phonePublic, lockPublic] = [fromHex(v.lockId), fromHex(v.ticket), fromHex(v.phonePublic), fromHex(v.deviceEncryptionPublic)];
        const device = { encryptionSecret: fromHex(v.deviceEncryptionSecret), encryptionPublic: lockPublic };
        // The Montgomery forms: the phone's X25519 pair is its Ed25519 pair seen on the other curve.
        expect(toHex(ed25519SeedToX25519(fromHex(v.phoneSeed))), v.name).toBe(v.phoneX25519Secret);
        expect(toHex(ed25519PublicToX25519(phonePublic)), v.name).toBe(v.phoneX25519Public);
        expect(toHex(x25519PublicKey(fromHex(v.phoneX25519Secret)))).toBe(v.phoneX25519Public);
        expect(toHex(x25519Shared(fromHex(v.phoneX25519Secret), lockPublic))).toBe(v.shared);
        for (const provider of providers) {
          expect(toHex(lockTicketMacKey(device, lockId, phonePublic, provider)), v.name).toBe(v.key);
          expect(toHex(phoneTicketMacKey({ seed: fromHex(v.phoneSeed), publicKey: phonePublic }, lockId, lockPublic, provider)), v.name).toBe(v.key);
          expect(toHex(ticketMac(fromHex(v.key), lockId, ticket, provider))).toBe(v.mac);
        }
        expect(toHex(ticketMacInput(lockId, ticket))).toBe(v.input);
        // Independently of the library: the birational map, the clamped scalar, X25519, HKDF and HMAC from node:crypto.
        const P = 2n ** 255n - 19n;
        const le = (b: Uint8Array): bigint => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
        const pow = (b: bigint, e: bigint): bigint => {
          let r = 1n;
          for (b %= P; e > 0n; e >>= 1n, b = (b * b) % P) if (e & 1n) r = (r * b) % P;
          return r;
        };
        const y = le(phonePublic) & ((1n << 255n) - 1n);
        const u = ((1n + y) * pow((1n - y + P) % P, P - 2n)) % P;
        expect(toHex(Uint8Array.from({ length: 32 }, (_, i) => Number((u >> BigInt(8 * i)) & 0xffn)))).toBe(v.phoneX25519Public);
        const scalar = createHash('sha512').update(fromHex(v.phoneSeed)).digest().subarray(0, 32);
        scalar[0]! &= 248;
        scalar[31]! &= 127;
        scalar[31]! |= 64;
        expect(toHex(scalar)).toBe(v.phoneX25519Secret);
        const b64 = (b: Uint8Array): string => Buffer.from(b).toString('base64url');
        const lockKey = createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: b64(device.encryptionSecret), x: b64(lockPublic) }, format: 'jwk' });
        const phoneKeyX = createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: b64(fromHex(v.phoneX25519Public)) }, format: 'jwk' });
        const shared = diffieHellman({ privateKey: lockKey, publicKey: phoneKeyX });
        expect(toHex(shared)).toBe(v.shared);
        const info = Buffer.concat([Buffer.from('latchkit/v1/ticket-mac'), phonePublic, lockPublic]);
        expect(toHex(new Uint8Array(hkdfSync('sha256', shared, lockId, info, 32)))).toBe(v.key);
        const input = Buffer.concat([Buffer.from('latchkit/v1/unlock-ticket-mac'), lockId, ticket]);
        expect(toHex(createHmac('sha256', fromHex(v.key)).update(input).digest().subarray(0, 16))).toBe(v.mac);
      } else if (v.type === 'layoutHash') {
        for (const provider of providers) expect(toHex(layoutHash(SERVICE_LAYOUT, provider)), v.name).toBe(v.value);
      } else if (v.type === 'bulkChunks') {
        const message = fromHex(v.message);
        const rx = new BulkReceiver(1 << 20);
        rx.begin({ id: transferId(message), total: message.length });
        // The receiver takes the chunks only after the first 356 bytes, sent as one chunk here.
        expect(rx.chunk(new Uint8Array([0, 0, 0, 0, ...message.subarray(0, v.offset)]))).toBe(true);
        for (const c of v.chunks) expect(rx.chunk(fromHex(c))).toBe(true);
        expect(rx.commit(transferId(message))).toEqual(message);
        expect([...bulkChunks(message, v.offset, v.mtu)].map(toHex)).toEqual(v.chunks);
      } else {
        const info = decodeLockInfo(fromHex(v.value));
        expect({ lockId: toHex(info.lockId), seq: info.seq, clock: info.clock, batteryPercent: info.batteryPercent, firmware: info.firmware, nextEventIndex: info.nextEventIndex }).toEqual(v.expect);
      }
    }
  });
});

describe('vector files are what the generator produces', () => {
  it('regenerating gives the committed bytes', () => {
    for (const [name, file] of Object.entries(buildVectors())) {
      expect(JSON.parse(JSON.stringify(file)), name).toEqual(load(name));
    }
  });
});
