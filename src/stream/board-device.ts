/**
 * Stream devices built from an open board: the codec's main digital volume of each direction
 * as the stream gain, the board's jack-detect line as the plug state, the codec's format ranges
 * (plus `sim.extraFormatRanges`), and the board's latency breakdown as the external delay.
 *
 * Streams of one direction share the codec's main volume (one control on the chip), so a gain
 * change through one is seen by all of them and announced to each (EXT_GAIN_CHANGED).
 */
import { createHash } from 'node:crypto';
import { latencyBreakdown } from '../board/latency.ts';
import type { BoardRuntime } from '../board/runtime.ts';
import type { StreamSpec } from '../board/schema.ts';
import { CARRIED_SAMPLE_FORMATS, type FormatRange, bitsOfSampleFormat } from '../audio/formats.ts';
import type { GainControlInfo } from '../codec/types.ts';
import { AsyncMutex } from '../hal/i2c.ts';
import { roundDbToStep } from '../codec/controls.ts';
import { type FadeTarget, type HandoffResult, handoffGain } from './gain-handoff.ts';
import {
  type DeviceGainState, type GainCaps, NotSupportedRingBuffer, type PlugState, type RequestedFormat, type RingBufferEngine,
  type RingBufferChannel, type RingBufferEvents, type StreamDevice, type StreamDeviceInfo,
} from './device.ts';

export interface BoardDevicesOptions {
  /** The ring-buffer engine plugs in here; default: every ring-buffer command answers NOT_SUPPORTED. */
  createRingBuffer?: (stream: StreamSpec, fmt: RequestedFormat, events: RingBufferEvents, channel?: RingBufferChannel) => RingBufferEngine;
  /**
   * The running engines of a direction, whose fades carry a gain change as a ramp
   * (./gain-handoff.ts). Default none: a gain change is a register write.
   */
  fadeTargets?: (direction: 'output' | 'input') => readonly FadeTarget[];
  /** The instantiation class's lock (src/control/dispatch.ts): SET_FORMAT runs in it. Absent: none. */
  instantiation?: { run<T>(what: string, fn: () => Promise<T>): Promise<T> };
  /** Told of every handoff (when the register writes landed, against when they were due). */
  onHandoff?: (stream: string, result: HandoffResult) => void;
  /** Delay the service adds before the codec (a plugin chain's latency), ns at `fps`: part of the external delay. */
  addedDelayNs?: (stream: string, fps: number) => number;
}

export interface BoardDevices {
  devices: StreamDevice[];
  /** The one lock of every codec access (the control model takes it too). */
  codecLock: AsyncMutex;
  /** Stops following the jack line. */
  close(): void;
}

/** The endpoint name of a stream: '<board>.<stream id>' (both are [a-z0-9-], so the dot separates them). */
export function endpointName(boardName: string, streamId: string): string {
  return `${boardName}.${streamId}`;
}

/** 16 bytes that depend only on the board's name and the stream's id: stable across restarts (R-INFO-1). */
export function streamUniqueId(boardName: string, streamId: string): Uint8Array {
  const h = createHash('sha256').update(`sbc-audio stream\0${boardName}\0${streamId}`, 'utf8').digest();
  return new Uint8Array(h.subarray(0, 16));
}

/** The extra ranges a sim board adds to exercise GET_FORMATS paging (the simulated part accepts them). */
export { extraFormatRanges } from '../board/runtime.ts';

/**
 * The ranges a stream offers: the part's, each cut to the sample formats the ring-buffer engine
 * carries byte for byte (CARRIED_SAMPLE_FORMATS); a range left with none is not offered. So every
 * offered (rate, format, channels) goes through SET_FORMAT, the ring buffer and START (R-FMT-2).
 */
export function offeredRanges(partRanges: readonly FormatRange[]): FormatRange[] {
  return partRanges.flatMap((r) => {
    const carried = (r.sampleFormats & CARRIED_SAMPLE_FORMATS) >>> 0;
    return carried === 0 ? [] : [{ ...r, sampleFormats: carried }];
  });
}

const FIXED_CAPS: GainCaps = { canMute: false, canAgc: false, minGain: 0, maxGain: 0, gainStep: 0 };

/** One direction's gain: the codec's main control, shared by the streams of that direction. */
class GainHub {
  readonly listeners = new Set<(s: DeviceGainState) => void>();
  last: DeviceGainState | undefined;
  constructor(readonly control: GainControlInfo | undefined) {}

  emitIfChanged(s: DeviceGainState): void {
    const l = this.last;
    this.last = s;
    if (l && l.muted === s.muted && l.agc === s.agc && l.gainDb === s.gainDb) return;
    for (const fn of this.listeners) fn(s);
  }
}

export function createBoardDevices(rt: BoardRuntime, opts: BoardDevicesOptions = {}): BoardDevices {
  const { board, codec } = rt;
  // One lock for the codec: requests from different streams and channels never interleave on its bus.
  const codecLock = new AsyncMutex();
  const controls = codec.gainControls();
  const hubs = {
    output: new GainHub(controls.find((c) => c.direction === 'output' && c.main)),
    input: new GainHub(controls.find((c) => c.direction === 'input' && c.main)),
  };

  // The jack: followed through its line's edge events, stamped with the kernel's event time (R-PLUG-4).
  const startNs = rt.hal.clock.nowNs();
  const jackLine = rt.lines.get('jack-detect');
  let jack = { plugged: rt.jackPlugged() ?? false, timeNs: startNs };
  const plugListeners = new Set<() => void>();
  const offEdge = jackLine?.request.onEdge((ev) => {
    const plugged = ev.edge === 'rising';
    if (plugged === jack.plugged) return;
    jack = { plugged, timeNs: ev.timestampNs };
    for (const fn of plugListeners) fn();
  });

  const devices = board.streams.map((stream): StreamDevice => {
    const hub = hubs[stream.direction];
    const control = hub.control;
    const ranges: FormatRange[] = offeredRanges(codec.formats(stream.direction));
    const caps: GainCaps = control
      ? { canMute: control.canMute, canAgc: false, minGain: control.minDb, maxGain: control.maxDb, gainStep: control.stepDb }
      : FIXED_CAPS;
    const info: StreamDeviceInfo = {
      direction: stream.direction,
      purpose: stream.purpose,
      endpointName: endpointName(board.name, stream.id),
      uniqueId: streamUniqueId(board.name, stream.id),
      manufacturer: board.manufacturer,
      product: `${board.name} ${stream.id} (${stream.purpose}, ${codec.name})`,
      // Sim boards run on the system's timeline; real codecs run on their own crystal or PLL.
      clockDomain: board.hal === 'sim' ? 0 : 1,
    };
    // With no codec operation queued or running, what the driver holds is what the chip holds:
    // answered without the lock, and synchronously (GET_GAIN then answers in the request's turn;
    // bench/control-rtt.ts). Otherwise undefined: the caller queues for the lock.
    const peekGain = (): DeviceGainState | undefined => {
      if (!control) return { muted: false, agc: false, gainDb: 0 };
      const g = codecLock.idle ? codec.cachedGain?.(control.name) : undefined;
      return g && { muted: g.muted, agc: false, gainDb: g.db };
    };
    const readGain = async (): Promise<DeviceGainState> => {
      const now = peekGain();
      if (now) return now;
      const g = await codecLock.run(() => codec.getGain(control!.name));
      return { muted: g.muted, agc: false, gainDb: g.db };
    };
    const plugState = (): PlugState => stream.plug === 'hardwired'
      ? { hardwired: true, canNotify: false, plugged: true, timeNs: startNs }
      : { hardwired: false, canNotify: true, plugged: jack.plugged, timeNs: jack.timeNs };

    return {
      info,
      formats: () => ranges,
      async changeFormat(fmt) {
        // Instantiation class: never at the same time as a configure (which may re-initialise the codec).
        const set = () => codecLock.run(() => codec.setFormat({ rate: fmt.fps, channels: fmt.channels, bits: bitsOfSampleFormat(fmt.sampleFormat) }));
        await (opts.instantiation ? opts.instantiation.run(`set format ${endpointName(board.name, stream.id)}`, set) : set());
        return { externalDelayNs: latencyBreakdown(board, codec, stream.direction, fmt.fps).totalNs + (opts.addedDelayNs?.(stream.id, fmt.fps) ?? 0) };
      },
      externalDelayNs: (fps) => latencyBreakdown(board, codec, stream.direction, fps).totalNs + (opts.addedDelayNs?.(stream.id, fps) ?? 0),
      unknownDelay: (fps) => latencyBreakdown(board, codec, stream.direction, fps).unknown,
      gainCaps: () => caps,
      getGain: readGain,
      peekGain,
      async setGain(change) {
        if (!control) return readGain();
        try {
          await codecLock.run(async () => {
            // Unmuting: the new gain goes in while still muted. Muting: mute first. Never a loud blip.
            const write = async () => {
              if (change.muted === true) await codec.setMute(control.name, true);
              if (change.gainDb !== undefined) await codec.setGain(control.name, change.gainDb);
              if (change.muted === false) await codec.setMute(control.name, false);
            };
            const targets = opts.fadeTargets?.(stream.direction) ?? [];
            if (targets.length === 0) return write();
            // Running streams hear the change as a ramp; the others' fades follow the mute (./gain-handoff.ts).
            const now = await codec.getGain(control.name);
            const from = { db: now.db, muted: now.muted };
            const to = {
              db: change.gainDb !== undefined ? roundDbToStep(change.gainDb, control) : now.db,
              muted: change.muted ?? now.muted,
            };
            const r = await handoffGain({ clock: rt.hal.clock, targets, from, to, write });
            if (r.ramped) opts.onHandoff?.(stream.id, r);
          });
        } catch (e) {
          // A failed write may still have changed what the chip holds (the codec reports it as its
          // state): the other channels hear of it as of any change; the caller gets the error (IO).
          await readGain().then((s) => hub.emitIfChanged(s), () => {});
          throw e;
        }
        const s = await readGain();
        hub.emitIfChanged(s);
        return s;
      },
      onGainChange(listener) {
        if (!hub.last && control) readGain().then((s) => { hub.last ??= s; }, () => {});
        hub.listeners.add(listener);
        return () => hub.listeners.delete(listener);
      },
      plugState,
      onPlugChange(listener) {
        if (stream.plug === 'hardwired') return () => {};
        const fn = () => listener(plugState());
        plugListeners.add(fn);
        return () => plugListeners.delete(fn);
      },
      createRingBuffer(fmt, events, channel) {
        return opts.createRingBuffer ? opts.createRingBuffer(stream, fmt, events, channel) : new NotSupportedRingBuffer();
      },
    };
  });

  return {
    devices,
    codecLock,
    close() {
      offEdge?.();
      plugListeners.clear();
      hubs.output.listeners.clear();
      hubs.input.listeners.clear();
    },
  };
}
