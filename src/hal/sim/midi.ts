/**
 * A simulated MIDI sequencer (a simulation, not ALSA): clients, ports and subscriptions as the ALSA
 * sequencer has them, with sources a test creates and plays (`addSource(...).controlChange(...)`).
 *
 * What it copies from ALSA, so that code tested on it behaves the same on a board:
 * - client numbers: sources from 20 (where ALSA's kernel clients for cards begin), input clients
 *   from 128 (ALSA's first user client); every client here has one port, port 0;
 * - source names resolve as snd_seq_parse_address resolves them for aconnect: "20:0" or "20.0",
 *   "20" (port 0), a client name ("client name:port" for another port); a name matches a client
 *   whose name starts with it, an exact match first;
 * - an event reaches every input port subscribed to its source when it is sent, in order; ports
 *   subscribed later do not see earlier events; closing a port removes its subscriptions.
 * Delivery is asynchronous (a microtask per event, in order), stamped with the clock's nowNs().
 */
import type { Clock } from '../clock.ts';
import { MidiError, type MidiAddress, type MidiEvent, type MidiEventBody, type MidiInputPort, type MidiPortInfo, type MidiSequencer, formatMidiAddress } from '../midi.ts';

/** ALSA's first user client number (user clients are 128..191 in the kernel's sequencer). */
const FIRST_INPUT_CLIENT = 128;
/** Where the simulated sources start (ALSA's card clients start at 16 + 4 * card; 20 is card 1). */
const FIRST_SOURCE_CLIENT = 20;

const key = (a: MidiAddress) => `${a.client}:${a.port}`;

function checkRange(what: string, v: number, max: number): void {
  if (!Number.isInteger(v) || v < 0 || v > max) throw new MidiError(`${what} must be an integer 0..${max}, got ${v}`);
}

interface SimClient {
  client: number;
  name: string;
  portName: string;
  source: boolean;
  destination: boolean;
}

/** A simulated MIDI source (a controller): what it sends reaches the input ports subscribed to it. */
export class SimMidiSource {
  readonly address: MidiAddress;
  private closed = false;

  constructor(
    private readonly seq: SimMidiSequencer,
    client: number,
    readonly clientName: string,
    readonly portName: string,
  ) {
    this.address = { client, port: 0 };
  }

  /** A control change: channel 0..15 as on the wire, controller and value 0..127. */
  controlChange(channel: number, controller: number, value: number): void {
    checkRange(`${this.clientName}: channel`, channel, 15);
    checkRange(`${this.clientName}: controller`, controller, 127);
    checkRange(`${this.clientName}: value`, value, 127);
    this.send({ type: 'controller', channel, controller, value });
  }

  /** A program change: channel 0..15, program 0..127. */
  programChange(channel: number, program: number): void {
    checkRange(`${this.clientName}: channel`, channel, 15);
    checkRange(`${this.clientName}: program`, program, 127);
    this.send({ type: 'program', channel, program });
  }

  /** A note on (velocity 1..127; 0 is sent as it is, a note-off by MIDI 1.0's convention) or off: channel 0..15, note 0..127. */
  noteOn(channel: number, note: number, velocity: number): void {
    this.note('note-on', channel, note, velocity);
  }

  noteOff(channel: number, note: number, velocity = 64): void {
    this.note('note-off', channel, note, velocity);
  }

  private note(type: 'note-on' | 'note-off', channel: number, note: number, velocity: number): void {
    checkRange(`${this.clientName}: channel`, channel, 15);
    checkRange(`${this.clientName}: note`, note, 127);
    checkRange(`${this.clientName}: velocity`, velocity, 127);
    this.send({ type, channel, note, velocity });
  }

  private send(body: MidiEventBody): void {
    if (this.closed) throw new MidiError(`simulated MIDI source ${formatMidiAddress(this.address)} ('${this.clientName}') was removed`);
    this.seq.dispatch(this.address, body);
  }

  /** Removes the source (its subscriptions go with it). */
  remove(): void {
    if (this.closed) return;
    this.closed = true;
    this.seq.removeClient(this.address.client);
  }
}

export class SimMidiInputPort implements MidiInputPort {
  readonly address: MidiAddress;
  private readonly listeners = new Set<(ev: MidiEvent) => void>();
  closed = false;

  constructor(
    private readonly seq: SimMidiSequencer,
    client: number,
    readonly clientName: string,
    readonly portName: string,
  ) {
    this.address = { client, port: 0 };
  }

  private ensureOpen(): void {
    if (this.closed) throw new MidiError(`simulated MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}') is closed`);
  }

  onEvent(listener: (ev: MidiEvent) => void): () => void {
    this.ensureOpen();
    const wrapped = (ev: MidiEvent) => listener(ev);
    this.listeners.add(wrapped);
    return () => { this.listeners.delete(wrapped); };
  }

  /** Called by the sequencer, in order, for each event from a subscribed source. */
  deliver(ev: MidiEvent): void {
    if (this.closed) return;
    for (const l of this.listeners) {
      try {
        l(ev);
      } catch (err) {
        queueMicrotask(() => { throw err; });
      }
    }
  }

  async connectFrom(source: string): Promise<MidiAddress> {
    this.ensureOpen();
    const from = this.seq.resolve(source);
    this.seq.subscribe(from, this, source);
    return from;
  }

  async disconnectFrom(source: string): Promise<void> {
    this.ensureOpen();
    const from = this.seq.resolve(source);
    if (!this.seq.unsubscribe(from, this)) {
      throw new MidiError(`simulated MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}') is not subscribed to '${source}' (${formatMidiAddress(from)})`);
    }
  }

  connections(): MidiAddress[] {
    this.ensureOpen();
    return this.seq.sendersTo(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    this.seq.removeClient(this.address.client);
  }
}

/** The simulated sequencer: one per SimHal (`SimHal.midi()`). */
export class SimMidiSequencer implements MidiSequencer {
  private readonly clients = new Map<number, SimClient>();
  private readonly inputs = new Map<number, SimMidiInputPort>();
  /** Source address key → the input ports subscribed to it, in subscription order. */
  private readonly subscriptions = new Map<string, Set<SimMidiInputPort>>();
  private nextSource = FIRST_SOURCE_CLIENT;
  private nextInput = FIRST_INPUT_CLIENT;
  private closedFlag = false;

  constructor(private readonly clock: Clock) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  private ensureOpen(): void {
    if (this.closedFlag) throw new MidiError('the simulated MIDI sequencer was closed');
  }

  /** A new simulated source client with one readable, subscribable port. */
  addSource(clientName: string, portName: string): SimMidiSource {
    this.ensureOpen();
    if (this.nextSource >= FIRST_INPUT_CLIENT) throw new MidiError(`simulated sequencer: no client number left for source '${clientName}'`);
    const client = this.nextSource++;
    this.clients.set(client, { client, name: clientName, portName, source: true, destination: false });
    return new SimMidiSource(this, client, clientName, portName);
  }

  listPorts(): MidiPortInfo[] {
    this.ensureOpen();
    return [...this.clients.values()]
      .sort((a, b) => a.client - b.client)
      .map((c) => ({ address: { client: c.client, port: 0 }, clientName: c.name, portName: c.portName, source: c.source, destination: c.destination }));
  }

  async openInput(clientName: string, portName: string): Promise<MidiInputPort> {
    this.ensureOpen();
    if (!clientName || !portName) throw new MidiError(`openInput: client and port names must not be empty (got '${clientName}', '${portName}')`);
    // ALSA's user clients are 128..191 (SNDRV_SEQ_MAX_CLIENTS 192 in the kernel's sequencer).
    if (this.nextInput >= 192) throw new MidiError(`simulated sequencer: no user client number left for '${clientName}'`);
    const client = this.nextInput++;
    this.clients.set(client, { client, name: clientName, portName, source: false, destination: true });
    const port = new SimMidiInputPort(this, client, clientName, portName);
    this.inputs.set(client, port);
    return port;
  }

  /**
   * The open input port at an address ("128:0" as knobs' info gives it), for a simulated
   * controller to be connected to it as aconnect would (by address); undefined where none is.
   */
  inputAt(address: MidiAddress): SimMidiInputPort | undefined {
    const port = this.inputs.get(address.client);
    return port && !port.closed && port.address.port === address.port ? port : undefined;
  }

  /** As snd_seq_parse_address: "C:P" / "C.P", "C" (port 0), or a client name (optionally ":P"). */
  resolve(source: string): MidiAddress {
    this.ensureOpen();
    const sep = source.search(/[:.]/);
    const namePart = sep >= 0 ? source.slice(0, sep) : source;
    const portPart = sep >= 0 ? source.slice(sep + 1) : '0';
    const port = /^\d+$/.test(portPart) ? Number(portPart) : Number.NaN;
    const fail = (why: string) =>
      new MidiError(`no MIDI source '${source}' on the simulated sequencer (named as aconnect takes it: "20:0", "20", a client name or "client name:port"): ${why}`);
    if (!Number.isInteger(port)) throw fail('the port is not a number');
    if (/^\d/.test(namePart)) {
      const client = Number.parseInt(namePart, 10);
      return { client, port };
    }
    if (namePart.length === 0) throw fail('empty client name');
    const all = [...this.clients.values()].sort((a, b) => a.client - b.client);
    const hit = all.find((c) => c.name === namePart) ?? all.find((c) => c.name.startsWith(namePart));
    if (!hit) throw fail('no client of that name');
    return { client: hit.client, port };
  }

  subscribe(from: MidiAddress, to: SimMidiInputPort, asNamed: string): void {
    const c = this.clients.get(from.client);
    if (!c || from.port !== 0) {
      throw new MidiError(`cannot subscribe simulated MIDI input ${formatMidiAddress(to.address)} to '${asNamed}': no port ${formatMidiAddress(from)}`);
    }
    if (!c.source) throw new MidiError(`cannot subscribe simulated MIDI input ${formatMidiAddress(to.address)} to '${asNamed}' (${formatMidiAddress(from)}): not a readable port`);
    let set = this.subscriptions.get(key(from));
    if (!set) this.subscriptions.set(key(from), (set = new Set()));
    set.add(to);
  }

  unsubscribe(from: MidiAddress, to: SimMidiInputPort): boolean {
    return this.subscriptions.get(key(from))?.delete(to) ?? false;
  }

  sendersTo(to: SimMidiInputPort): MidiAddress[] {
    const out: MidiAddress[] = [];
    for (const [k, set] of this.subscriptions) {
      if (!set.has(to)) continue;
      const [client, port] = k.split(':').map(Number) as [number, number];
      out.push({ client, port });
    }
    return out.sort((a, b) => a.client - b.client || a.port - b.port);
  }

  /** Sends an event from `from` to every port subscribed now, in order, each on its own microtask. */
  dispatch(from: MidiAddress, body: MidiEventBody): void {
    this.ensureOpen();
    const targets = [...(this.subscriptions.get(key(from)) ?? [])];
    if (targets.length === 0) return;
    const receivedNs = this.clock.nowNs();
    queueMicrotask(() => {
      for (const t of targets) t.deliver({ ...body, source: { ...from }, receivedNs } as MidiEvent);
    });
  }

  removeClient(client: number): void {
    this.clients.delete(client);
    const input = this.inputs.get(client);
    this.inputs.delete(client);
    for (const [k, set] of this.subscriptions) {
      if (input) set.delete(input);
      if (k.startsWith(`${client}:`) || set.size === 0) this.subscriptions.delete(k);
    }
  }

  async close(): Promise<void> {
    if (this.closedFlag) return;
    for (const p of [...this.inputs.values()]) await p.close();
    this.clients.clear();
    this.subscriptions.clear();
    this.closedFlag = true;
  }
}
