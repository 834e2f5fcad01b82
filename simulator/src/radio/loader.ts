/**
 * Loading noble and bleno against the virtual controller, at run time, without touching how the
 * rest of the process loads them.
 *
 * Both stacks `require('@abandonware/bluetooth-hci-socket')` at module load and construct the
 * socket themselves. We load their files into a private CommonJS "world": for the duration of a
 * synchronous load we swap their entries in `require.cache` for our own copies and resolve the
 * socket module to `VirtualHciSocket`; afterwards the cache is put back. A plain
 * `require('@abandonware/noble')` elsewhere (the `hci` radio) still gets the real socket.
 *
 * bleno exports one instance (`module.exports = new Bleno()` over a singleton bindings object that
 * holds one connection handle), so every virtual lock gets fresh module instances of the three
 * files that create those singletons (index.js, lib/bleno.js, lib/hci-socket/bindings.js) — the
 * same as deleting them from require.cache and requiring again, but compiled once and re-run per
 * lock. The rest (HCI, GATT, ATT classes) is shared. noble supports several instances, so
 * centrals are `new Noble(new NobleBindings({ deviceId }))` from one private copy.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { compileFunction } from 'node:vm';
import { RadioError } from './errors.js';
import { VirtualHciSocket } from './socket.js';

export type Bleno = typeof import('@abandonware/bleno');
export type Noble = typeof import('@abandonware/noble');

const require = createRequire(import.meta.url);

interface CjsModule {
  exports: unknown;
  loaded: boolean;
  filename: string;
  paths: string[];
  require(id: string): unknown;
}

interface ModuleStatics {
  new (id: string): CjsModule;
  _cache: Record<string, CjsModule | undefined>;
  _resolveFilename(request: string, ...rest: unknown[]): string;
  _nodeModulePaths(dir: string): string[];
}

type ModuleFactory = (this: unknown, exports: unknown, require: (id: string) => unknown, module: CjsModule, filename: string, dirname: string) => void;

const NodeModule = require('node:module') as ModuleStatics;
const SOCKET_REQUEST = '@abandonware/bluetooth-hci-socket';
const VIRTUAL_SOCKET_ID = join(sep, 'latchkit-virtual-radio', 'bluetooth-hci-socket.js');

interface HciLike {
  pollIsDevUp(this: unknown): void;
}

type Constructor<T> = new (...args: never[]) => T;

/** Options the noble Gatt wrapper reads to pick the MTU a central asks for. */
export type CentralMtuLookup = (socket: unknown, handle: number) => number | undefined;

export class VirtualStackLoader {
  private readonly roots: string[];
  private readonly blenoRoot: string;
  private readonly nobleRoot: string;
  private readonly realSocketPath: string | undefined;
  private readonly privateCache = new Map<string, CjsModule>();
  private readonly factories = new Map<string, ModuleFactory>();
  private loadedOnce = false;
  private noble: { Noble: Constructor<Noble>; Bindings: Constructor<unknown> } | undefined;
  private readonly socketModule: CjsModule;

  constructor(private readonly centralMtu: CentralMtuLookup) {
    try {
      this.blenoRoot = dirname(require.resolve('@abandonware/bleno/package.json')) + sep;
      this.nobleRoot = dirname(require.resolve('@abandonware/noble/package.json')) + sep;
    } catch (cause) {
      throw new RadioError(
        'RADIO_STACK_UNAVAILABLE',
        'the virtual radio needs @abandonware/noble and @abandonware/bleno installed (they are dependencies of @latchkit/simulator)',
        { cause },
      );
    }
    this.roots = [this.blenoRoot, this.nobleRoot];
    try {
      this.realSocketPath = require.resolve(SOCKET_REQUEST, { paths: [this.blenoRoot, this.nobleRoot] });
    } catch {
      // The native socket is an optional dependency; without it only the resolve hook is needed.
      this.realSocketPath = undefined;
    }
    this.socketModule = new NodeModule(VIRTUAL_SOCKET_ID);
    this.socketModule.filename = VIRTUAL_SOCKET_ID;
    this.socketModule.exports = VirtualHciSocket;
    this.socketModule.loaded = true;
  }

  /** A fresh bleno instance (its own bindings, HCI, GATT database), not yet initialised. */
  createBleno(): Bleno {
    // Dependencies first, so each file's require of the next one finds the fresh instance.
    const fresh = ['lib/hci-socket/bindings.js', 'lib/bleno.js', 'index.js'].map((f) => this.blenoRoot + f.split('/').join(sep));
    return this.inPrivateWorld(fresh, () => {
      if (!this.loadedOnce) {
        this.patchShared();
        return require(this.blenoRoot + 'index.js') as Bleno;
      }
      let exports: unknown;
      for (const file of fresh) exports = this.instantiate(file);
      return exports as Bleno;
    });
  }

  /**
   * Runs a module file again as a new module instance, from a function compiled once: the same as
   * deleting it from require.cache and requiring it, without reading and compiling it per lock.
   */
  private instantiate(filename: string): unknown {
    let factory = this.factories.get(filename);
    if (!factory) {
      const source = readFileSync(filename, 'utf8');
      factory = compileFunction(source, ['exports', 'require', 'module', '__filename', '__dirname'], { filename }) as ModuleFactory;
      this.factories.set(filename, factory);
    }
    const mod = new NodeModule(filename);
    mod.filename = filename;
    mod.paths = NodeModule._nodeModulePaths(dirname(filename));
    NodeModule._cache[filename] = mod;
    const requireFromModule = (id: string): unknown => mod.require(id);
    factory.call(mod.exports, mod.exports, requireFromModule, mod, filename, dirname(filename));
    mod.loaded = true;
    return mod.exports;
  }

  /** A new noble instance whose HCI binds to virtual device `deviceId`, not yet initialised. */
  createNoble(deviceId: number): Noble {
    if (!this.noble) {
      this.noble = this.inPrivateWorld([], () => {
        if (!this.loadedOnce) this.patchShared();
        return {
          Noble: require(this.nobleRoot + join('lib', 'noble.js')) as Constructor<Noble>,
          Bindings: require(this.nobleRoot + join('lib', 'hci-socket', 'bindings.js')) as Constructor<unknown>,
        };
      });
    }
    const { Noble, Bindings } = this.noble;
    const N = Noble as unknown as new (bindings: unknown) => Noble;
    const B = Bindings as unknown as new (options: { deviceId: number }) => unknown;
    return new N(new B({ deviceId }));
  }

  /**
   * Changes made once to the private copies:
   * - the 1 s `pollIsDevUp` timer of both HCI classes runs once instead of forever: a virtual
   *   controller is always up, and 10,000 locks would otherwise keep 10,000 timers (and the
   *   process) alive;
   * - noble's Gatt asks for the central's MTU instead of its hard-coded 256.
   */
  private patchShared(): void {
    this.loadedOnce = true;
    for (const file of [this.blenoRoot + join('lib', 'hci-socket', 'hci.js'), this.nobleRoot + join('lib', 'hci-socket', 'hci.js')]) {
      const Hci = require(file) as { prototype: HciLike };
      pollOnce(Hci.prototype);
    }
    const gattPath = this.nobleRoot + join('lib', 'hci-socket', 'gatt.js');
    const Gatt = require(gattPath) as { prototype: object } & ((this: GattLike, address: string, aclStream: AclStreamLike) => void);
    const lookup = this.centralMtu;
    function MtuGatt(this: GattLike, address: string, aclStream: AclStreamLike): void {
      Gatt.call(this, address, aclStream);
      const mtu = lookup(aclStream._hci?._socket, aclStream._handle);
      if (mtu !== undefined) this._desired_mtu = mtu;
    }
    MtuGatt.prototype = Gatt.prototype;
    const entry = NodeModule._cache[gattPath];
    if (!entry) throw new Error(`noble's gatt.js was not cached at ${gattPath}`);
    entry.exports = MtuGatt;
  }

  private inPrivateWorld<T>(fresh: string[], load: () => T): T {
    const cache = NodeModule._cache;
    const saved = new Map<string, CjsModule>();
    const keys = this.loadedOnce ? [...this.privateCache.keys(), ...fresh] : Object.keys(cache).filter((k) => this.owns(k));
    for (const k of keys) {
      const m = cache[k];
      if (m && this.privateCache.get(k) !== m) saved.set(k, m);
      delete cache[k];
    }
    const freshSet = new Set(fresh);
    for (const [k, m] of this.privateCache) if (!freshSet.has(k)) cache[k] = m;
    const before = Object.keys(cache).length;
    const savedSocket = this.realSocketPath === undefined ? undefined : cache[this.realSocketPath];
    if (this.realSocketPath !== undefined) cache[this.realSocketPath] = this.socketModule;
    cache[VIRTUAL_SOCKET_ID] = this.socketModule;
    const resolve = NodeModule._resolveFilename;
    NodeModule._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]): string {
      return request === SOCKET_REQUEST ? VIRTUAL_SOCKET_ID : resolve.call(this, request, ...rest);
    };
    try {
      return load();
    } finally {
      NodeModule._resolveFilename = resolve;
      delete cache[VIRTUAL_SOCKET_ID];
      if (this.realSocketPath !== undefined) {
        if (savedSocket) cache[this.realSocketPath] = savedSocket;
        else delete cache[this.realSocketPath];
      }
      const added = Object.keys(cache).length > before + fresh.length;
      const ours = added || !this.loadedOnce ? Object.keys(cache).filter((k) => this.owns(k)) : [...this.privateCache.keys(), ...fresh];
      for (const k of ours) {
        const m = cache[k];
        if (m) this.privateCache.set(k, m);
        delete cache[k];
      }
      for (const [k, m] of saved) cache[k] = m;
    }
  }

  private owns(key: string): boolean {
    return this.roots.some((r) => key.startsWith(r));
  }
}

interface AclStreamLike {
  _handle: number;
  _hci?: { _socket?: unknown };
}

interface GattLike {
  _desired_mtu: number;
}

function pollOnce(proto: HciLike): void {
  const original = proto.pollIsDevUp;
  proto.pollIsDevUp = function pollIsDevUp(this: unknown): void {
    const realSetTimeout = globalThis.setTimeout;
    const skipPollTimer = function (this: unknown, fn: unknown, ...rest: unknown[]): unknown {
      if (typeof fn === 'function' && fn.name === 'bound pollIsDevUp') return undefined;
      return (realSetTimeout as unknown as (...a: unknown[]) => unknown).call(this, fn, ...rest);
    };
    globalThis.setTimeout = skipPollTimer as unknown as typeof setTimeout;
    try {
      original.call(this);
    } finally {
      globalThis.setTimeout = realSetTimeout;
    }
  };
}

/** Runs `init` and removes the process 'exit' and 'SIGINT' listeners it added. */
export function withoutProcessHooks<T>(init: () => T): T {
  const exit = new Set(process.listeners('exit'));
  const sigint = new Set(process.listeners('SIGINT'));
  try {
    return init();
  } finally {
    for (const l of process.listeners('exit')) if (!exit.has(l)) process.removeListener('exit', l);
    for (const l of process.listeners('SIGINT')) if (!sigint.has(l)) process.removeListener('SIGINT', l);
  }
}

/** Runs `fn` with environment variables set, then restores them. */
export function withEnv<T>(vars: Record<string, string | undefined>, fn: () => T): T {
  const saved: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k];
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  try {
    return fn();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}
