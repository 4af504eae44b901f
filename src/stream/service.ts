/**
 * The stream service: every stream of an open board published as an endpoint under the runtime
 * directory (docs/PROTOCOL.md). `sbc-audio serve` runs it; tests and demos run it in-process:
 *
 *   const rt = await openBoard(loadBoard('sim'));
 *   const service = await startStreamService(rt, { runtimeDir: '/tmp/sbc' });
 *   ...
 *   await service.close(); await rt.close();
 */
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { BoardRuntime } from '../board/runtime.ts';
import { type BoardDevicesOptions, createBoardDevices } from './board-device.ts';
import { StreamCore } from './core.ts';
import { type EngineRingBuffer, type EngineRingBufferOptions, engineRingBuffers } from './engine-ring-buffer.ts';
import { DIRECTION_DIRS, type StreamEndpoint, defaultRuntimeDir } from './discovery.ts';
import { type EndpointServer, serveEndpoint } from './transport.ts';

export interface StreamServiceOptions extends BoardDevicesOptions {
  /** Default `$XDG_RUNTIME_DIR/sbc-audio`, else `/run/sbc-audio`. */
  runtimeDir?: string;
  /** Probe and initialise the codec before publishing (default true: the service is the board's driver). */
  initCodec?: boolean;
  /** One line per noteworthy event (violations, slow clients). */
  log?: (line: string) => void;
  /** See EndpointServerOptions.maxQueuedBytes. */
  maxQueuedBytes?: number;
  /**
   * The ring-buffer channels' engine (src/stream/engine-ring-buffer.ts) and its settings; false
   * answers every ring-buffer command NOT_SUPPORTED (part 1's stand-in). Ignored when
   * `createRingBuffer` is given.
   */
  ringBuffer?: EngineRingBufferOptions | false;
}

export interface StreamService {
  readonly runtimeDir: string;
  readonly endpoints: readonly StreamEndpoint[];
  /** The protocol core of each endpoint, by endpoint name (tests look inside). */
  readonly cores: ReadonlyMap<string, StreamCore>;
  /** The live ring-buffer engines (tests and demos look inside). */
  readonly ringBuffers: ReadonlySet<EngineRingBuffer>;
  /** Removes the endpoints and closes every channel. The board runtime stays open (the caller's). */
  close(): Promise<void>;
}

export async function startStreamService(runtime: BoardRuntime, opts: StreamServiceOptions = {}): Promise<StreamService> {
  const runtimeDir = path.resolve(opts.runtimeDir ?? defaultRuntimeDir());
  const log = opts.log ?? (() => {});
  if (opts.initCodec ?? true) {
    await runtime.codec.probe();
    await runtime.codec.init();
  }
  for (const d of Object.values(DIRECTION_DIRS)) mkdirSync(path.join(runtimeDir, d), { recursive: true, mode: 0o755 });

  const engines = !opts.createRingBuffer && opts.ringBuffer !== false ? engineRingBuffers(runtime, { log, ...(opts.ringBuffer || {}) }) : undefined;
  const board = createBoardDevices(runtime, engines ? { ...opts, createRingBuffer: engines } : opts);
  const servers: EndpointServer[] = [];
  const endpoints: StreamEndpoint[] = [];
  const cores = new Map<string, StreamCore>();
  try {
    for (const device of board.devices) {
      const core = new StreamCore(device, { log });
      const name = device.info.endpointName;
      const p = path.join(runtimeDir, DIRECTION_DIRS[device.info.direction], name);
      servers.push(await serveEndpoint(core, p, { log, maxQueuedBytes: opts.maxQueuedBytes }));
      cores.set(name, core);
      endpoints.push({ direction: device.info.direction, name, path: p });
    }
  } catch (e) {
    for (const s of servers) await s.close();
    board.close();
    await engines?.closeAll();
    throw e;
  }

  let closed: Promise<void> | undefined;
  return {
    runtimeDir,
    endpoints,
    cores,
    ringBuffers: engines?.engines ?? new Set(),
    close() {
      closed ??= (async () => {
        for (const s of servers) await s.close();
        board.close();
        await engines?.closeAll();
      })();
      return closed;
    },
  };
}
