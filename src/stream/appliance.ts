/**
 * The stream service as the appliance's remote faces see it (src/web/source.ts's
 * ApplianceSource): its controls through the control class, its programs, and each stream's
 * state — running or idle, format, gain and mute, plug, xruns, latency breakdown, levels — with
 * a change event whenever one of them moves. The HTTP/WebSocket API (src/web/) and Home Assistant
 * over MQTT (src/mqtt/) both read this one object.
 */
import { latencyBreakdown } from '../board/latency.ts';
import type { BoardRuntime } from '../board/runtime.ts';
import { bitsOfSampleFormat } from '../audio/formats.ts';
import type { ControlDispatcher } from '../control/dispatch.ts';
import type { ControlModel } from '../control/model.ts';
import type { Programs } from '../control/programs.ts';
import type { ControlDescriptor, ControlValue } from '../control/types.ts';
import type { ApplianceEvent, ApplianceSource, LevelReading, StreamStatus } from '../web/source.ts';
import type { StreamDevice } from './device.ts';
import type { EngineRingBuffer } from './engine-ring-buffer.ts';
import { floorReading } from './levels.ts';

export interface ApplianceOptions {
  runtime: BoardRuntime;
  model: ControlModel;
  dispatcher: ControlDispatcher;
  programs: Programs;
  descriptors: readonly ControlDescriptor[];
  /** The board's stream devices (plug state). */
  devices: readonly StreamDevice[];
  /** The live ring-buffer engines. */
  engines: ReadonlySet<EngineRingBuffer>;
}

/** The service's side of the appliance's remote faces; `activity` and `xrun` are the service's hooks into it. */
export class ServiceAppliance implements ApplianceSource {
  readonly board: string;
  private readonly values = new Map<string, ControlValue | null>();
  private readonly listeners = new Set<(e: ApplianceEvent) => void>();
  private readonly xruns = new Map<string, { underruns: number; overruns: number }>();
  private readonly offs: (() => void)[] = [];

  constructor(private readonly o: ApplianceOptions) {
    this.board = o.runtime.board.name;
    for (const [id, v] of Object.entries(o.model.persistentValues())) this.values.set(id, v);
    this.offs.push(o.model.onChange((c) => {
      this.values.set(c.id, c.value);
      for (const x of c.sameAs ?? []) this.values.set(x, c.value);
      this.emit({ type: 'control', control: c });
      // A stream's gain or mute is part of its status too.
      const s = o.runtime.board.streams.find((st) => c.id === this.id(st.id, 'gain') || c.id === this.id(st.id, 'mute') || (c.sameAs ?? []).some((x) => x === this.id(st.id, 'gain') || x === this.id(st.id, 'mute')));
      if (s) this.streamChanged(s.id);
    }));
    for (const d of o.devices) {
      const stream = o.runtime.board.streams.find((s) => `${this.board}.${s.id}` === d.info.endpointName)?.id;
      if (stream) this.offs.push(d.onPlugChange(() => this.streamChanged(stream)));
    }
  }

  /** Reads every control once (the values the status shows before any change). */
  async init(): Promise<void> {
    const l = await this.o.model.list();
    for (const c of l.controls) if (!this.values.has(c.id)) this.values.set(c.id, c.value);
  }

  private id(stream: string, name: string): string {
    return `${this.board}.${stream}.${name}`;
  }

  private emit(e: ApplianceEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch { /* a listener's failure is its own */ }
    }
  }

  /** The service: a stream started or stopped. */
  activity(stream: string): void {
    this.streamChanged(stream);
  }

  /** The service: xruns on a stream's engine (n in this period). */
  xrun(stream: string, direction: 'output' | 'input', n: number): void {
    const x = this.xruns.get(stream) ?? { underruns: 0, overruns: 0 };
    if (direction === 'output') x.underruns += n;
    else x.overruns += n;
    this.xruns.set(stream, x);
    this.streamChanged(stream);
  }

  private streamChanged(stream: string): void {
    const s = this.streams().find((x) => x.id === stream);
    if (s) this.emit({ type: 'stream', stream: s });
  }

  listControls() {
    return this.o.model.list();
  }

  getControl(id: string) {
    return this.o.model.get(id);
  }

  async setControl(id: string, value: unknown): Promise<{ status: 'applied' | 'coalesced' | 'queued' | 'refused'; error?: string; control?: import('../control/types.ts').ControlInfo }> {
    const r = await this.o.dispatcher.set(id, value, { source: 'remote' });
    if (r.status === 'applied') return { status: 'applied', control: r.control };
    if (r.status === 'refused') return { status: 'refused', error: r.error };
    return { status: r.status };
  }

  programs() {
    const p = this.o.programs;
    return { list: p.list(), current: p.current() ?? null };
  }

  loadProgram(bank: number, program: number) {
    return this.o.programs.load(bank, program);
  }

  private engineOf(stream: string): EngineRingBuffer | undefined {
    return [...this.o.engines].find((e) => e.stream.id === stream && !e.isClosed);
  }

  streams(): StreamStatus[] {
    const { runtime } = this.o;
    const byId = new Map(this.o.descriptors.map((d) => [d.id, d]));
    return runtime.board.streams.map((s) => {
      const endpoint = `${this.board}.${s.id}`;
      const engine = this.engineOf(s.id);
      const running = engine?.isRunning === true;
      const fmt = engine?.fmt;
      const rate = fmt?.fps ?? 48000;
      const gainD = byId.get(this.id(s.id, 'gain'));
      const muteD = byId.get(this.id(s.id, 'mute'));
      const device = this.o.devices.find((d) => d.info.endpointName === endpoint);
      const plug = s.plug === 'hardwired' ? undefined : device?.plugState();
      const timing = engine?.timing();
      const value = (id: string) => (this.values.has(id) ? this.values.get(id)! : null);
      return {
        id: s.id, endpoint, direction: s.direction, purpose: s.purpose,
        state: running ? 'running' : 'idle',
        ...(fmt ? { format: { rate: fmt.fps, channels: fmt.channels, bits: bitsOfSampleFormat(fmt.sampleFormat) } } : {}),
        ...(gainD?.range ? {
          gain: {
            id: gainD.id, db: value(gainD.id) as number | null, min: gainD.range.min, max: gainD.range.max, step: gainD.range.step,
            ...(muteD ? { mutedId: muteD.id } : {}), muted: muteD ? (value(muteD.id) as boolean | null) : null,
          },
        } : {}),
        ...(plug ? { plugged: plug.plugged } : {}),
        xruns: { ...(this.xruns.get(s.id) ?? { underruns: 0, overruns: 0 }) },
        latency: { ...latencyBreakdown(runtime.board, runtime.codec, s.direction, rate), ...(timing ? { fifoNs: (timing.fifoFrames * 1e9) / timing.rate } : {}) },
        lateness: engine?.lateness() ?? null,
      };
    });
  }

  /** The running engine's reading; the floor (frames 0, −∞ dBFS) for a stream of the board that plays nothing now. */
  levels(stream: string): LevelReading | undefined {
    const s = this.o.runtime.board.streams.find((x) => x.id === stream);
    if (!s) return undefined;
    const e = this.engineOf(stream);
    return e?.levels() ?? floorReading(stream, e?.fmt.channels ?? 2, this.o.runtime.hal.clock.nowNs());
  }

  onEvent(listener: (e: ApplianceEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  close(): void {
    for (const off of this.offs.splice(0)) off();
    this.listeners.clear();
  }
}
