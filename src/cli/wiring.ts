/**
 * Where a board is wired to what runs on it: the one place that loads a board file, opens the
 * board (once per process) and hands it to the engine or the stream service. The commands, the
 * demo and the tests come through here.
 */
import { lstatSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../board/load.ts';
import { type BoardRuntime, type OpenBoardOptions, openBoard } from '../board/runtime.ts';
import { type Board, BoardFileError } from '../board/schema.ts';
import { defaultRuntimeDir } from '../stream/discovery.ts';
import { hardwareProblems } from '../system/doctor.ts';
import { type HostRoot, hostRootFrom } from '../system/host.ts';
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

/**
 * A real board's hardware is not there (ALSA card, I2C bus, codec, GPIO chip): `serve` stops before
 * it publishes anything, naming each missing part and the command that says how to fix it.
 */
export class HardwareMissingError extends Error {
  constructor(readonly board: Board, readonly missing: string[]) {
    super(`board ${board.name}: hardware missing, nothing published:\n${missing.map((m) => `  - ${m}`).join('\n')}\nrun 'sbc-audio doctor --board ${board.name}' for the fixes`);
    this.name = 'HardwareMissingError';
  }
}

/**
 * The runtime directory, where it exists already: a directory (not a symbolic link), owned by this
 * user or root, that nobody else may write to. Anything else is refused before a socket is made.
 */
export function checkRuntimeDirForServe(dir: string): void {
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return; // made by the service (mode 0755; the sockets carry their own mode)
  }
  const uid = process.geteuid?.() ?? 0;
  if (st.isSymbolicLink() || !st.isDirectory()) throw new Error(`runtime directory ${dir} is not a directory (a ${st.isSymbolicLink() ? 'symbolic link' : 'file'}); not using it`);
  if (st.uid !== uid && st.uid !== 0) throw new Error(`runtime directory ${dir} belongs to uid ${st.uid}, not to this user (${uid}) or root; not using it`);
  if (st.mode & 0o002) throw new Error(`runtime directory ${dir} is writable by anyone (mode ${(st.mode & 0o7777).toString(8)}); not using it`);
}

/** Opens a board and publishes its streams (`sbc-audio serve`, the demo). */
export async function serveBoard(
  nameOrPath: string, opts: StreamServiceOptions & { board?: OpenBoardOptions; hostRoot?: HostRoot; streams?: readonly string[] } = {},
): Promise<ServedBoard> {
  const loaded = loadBoard(nameOrPath);
  // Only these streams (the config's "binds", src/system/config.ts): the others get no endpoint.
  const only = opts.streams;
  const board = only ? { ...loaded, streams: loaded.streams.filter((s) => only.includes(s.id)) } : loaded;
  // A real board: its hardware is checked before anything is opened or published.
  const real = board.hal === 'linux' && !opts.board?.hal;
  if (real) {
    const missing = hardwareProblems(board, opts.hostRoot ?? hostRootFrom(undefined));
    if (missing.length) throw new HardwareMissingError(board, missing.map((c) => c.detail));
  }
  checkRuntimeDirForServe(path.resolve(opts.runtimeDir ?? defaultRuntimeDir()));
  let runtime: BoardRuntime;
  try {
    runtime = await openBoard(board, { log: opts.log, ...opts.board });
  } catch (e) {
    if (!real || e instanceof BoardFileError) throw e;
    throw new HardwareMissingError(board, [(e as Error).message]);
  }
  let service: StreamService;
  try {
    if (real && (opts.initCodec ?? true)) {
      try {
        await runtime.codec.probe();
      } catch (e) {
        throw new HardwareMissingError(board, [(e as Error).message]);
      }
    }
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
