/**
 * Where a board is wired to what runs on it: the one place that loads a board file, opens the
 * board (once per process) and hands it to the engine or the stream service. The commands, the
 * demo and the tests come through here.
 */
import { loadBoard } from '../board/load.ts';
import { type BoardRuntime, type OpenBoardOptions, openBoard } from '../board/runtime.ts';
import { EngineDriver } from '../engine/driver.ts';
import { asEngineError } from '../engine/errors.ts';
import { type StreamService, type StreamServiceOptions, startStreamService } from '../stream/service.ts';

/** Loads a board file (a name from board/ or a path) and opens the board. */
export async function openBoardByName(nameOrPath: string, opts: OpenBoardOptions = {}): Promise<BoardRuntime> {
  return openBoard(loadBoard(nameOrPath), opts);
}

/** The engine on a board: its devices, with the external delay and links from the open board. */
export async function engineForBoard(
  nameOrPath: string, opts: { simClock?: 'virtual' | 'monotonic'; codecReady?: boolean } & OpenBoardOptions = {},
): Promise<{ driver: EngineDriver; runtime: BoardRuntime }> {
  let runtime: BoardRuntime;
  try {
    runtime = await openBoardByName(nameOrPath, opts);
  } catch (e) {
    throw asEngineError(e, 'invalid-argument', `board ${nameOrPath}`);
  }
  const { simClock } = opts;
  // codecReady: the codec brought up as `sbc-audio run` does (probe, init, powered), so that on a
  // simulated board its chip passes what the engine plays and captures.
  if (opts.codecReady) await bringUpCodec(runtime);
  return { driver: EngineDriver.forBoard(runtime, simClock ? { simClock } : {}), runtime };
}

/** Probe, init (muted), then the board's power-up: the codec and the amplifier on. */
export async function bringUpCodec(runtime: BoardRuntime): Promise<void> {
  await runtime.codec.probe();
  await runtime.codec.init();
  await runtime.power.powerUp();
}

export interface ServedBoard {
  readonly runtime: BoardRuntime;
  readonly service: StreamService;
  /** Stops the service, then closes the board. */
  close(): Promise<void>;
}

/** Opens a board and publishes its streams (`sbc-audio serve`, the demo). */
export async function serveBoard(
  nameOrPath: string, opts: StreamServiceOptions & { board?: OpenBoardOptions } = {},
): Promise<ServedBoard> {
  const runtime = await openBoardByName(nameOrPath, { log: opts.log, ...opts.board });
  let service: StreamService;
  try {
    service = await startStreamService(runtime, opts);
  } catch (e) {
    await runtime.close();
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    runtime, service,
    close: () => (closed ??= (async () => {
      try {
        await service.close();
      } finally {
        await runtime.close();
      }
    })()),
  };
}
