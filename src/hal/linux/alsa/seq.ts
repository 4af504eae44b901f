/**
 * The MIDI HAL backend on the ALSA sequencer, through libasound (alsa/seq.h, alsa/seqmid.h).
 *
 * Decisions:
 * - Each input port is its own sequencer client (`openInput(clientName, portName)` names both, as
 *   `aconnect -l` shows them), opened non-blocking; the sequencer object itself holds one more
 *   client without ports for listing (`aconnect -l` leaves port-less clients out).
 * - Events reach listeners without blocking the event loop and without a timer: the readiness
 *   thread (../fd-ready.ts) polls the client's descriptor and says "readable"; the main thread then
 *   takes events with snd_seq_event_input until it returns -EAGAIN (libasound buffers what it read,
 *   and the handle never leaves the main thread). Per event: one preallocated pointer cell, one
 *   preallocated 28-byte copy of the event, and the MidiEvent object handed to listeners.
 * - Sources are named as aconnect names them and resolved by snd_seq_parse_address, the function
 *   aconnect itself uses ("20:0", "20", a client name, "client name:port").
 * - connections() asks the sequencer (snd_seq_query_port_subscribers, the senders subscribed to
 *   the port: SND_SEQ_QUERY_SUBS_WRITE), so it is current whoever made the subscription (this
 *   port or `aconnect SRC DEST`), without subscribing to the system announce port.
 * - Controller (SND_SEQ_EVENT_CONTROLLER), program change (SND_SEQ_EVENT_PGMCHANGE) and note
 *   (SND_SEQ_EVENT_NOTEON / NOTEOFF, for the synths of issue 30) events are decoded; others, and
 *   values outside the MIDI 1.0 ranges, are counted and dropped.
 */
import { MidiError, type MidiAddress, type MidiEvent, type MidiInputPort, type MidiPortInfo, type MidiSequencer, formatMidiAddress } from '../../midi.ts';
import { ERRNO } from '../../../util/errno.ts';
import { captureAlsaMessages, foldAlsaMessages, takeAlsaMessages, type AlsaLibMessage } from './lib-messages.ts';
import { watchFdReadable, type FdReadyWatch } from '../fd-ready.ts';
import { POLLIN } from '../libc.ts';
import {
  asound,
  type Asound,
  type Handle,
  NativeCell,
  POINTER_BYTES,
  POLLFD_BYTES,
  SEQ_ADDR_BYTES,
  SEQ_EVENT_BYTES,
  SEQ_EVENT_CTRL_CHANNEL_OFFSET,
  SEQ_EVENT_CTRL_PARAM_OFFSET,
  SEQ_EVENT_CTRL_VALUE_OFFSET,
  SEQ_EVENT_SOURCE_OFFSET,
  SEQ_EVENT_TYPE_OFFSET,
  SND_SEQ_EVENT_CONTROLLER,
  SND_SEQ_EVENT_NOTEOFF,
  SND_SEQ_EVENT_NOTEON,
  SND_SEQ_EVENT_PGMCHANGE,
  SEQ_EVENT_NOTE_NOTE_OFFSET,
  SEQ_EVENT_NOTE_VELOCITY_OFFSET,
  SND_SEQ_NONBLOCK,
  SND_SEQ_OPEN_DUPLEX,
  SND_SEQ_PORT_CAP_NO_EXPORT,
  SND_SEQ_PORT_CAP_READ,
  SND_SEQ_PORT_CAP_SUBS_READ,
  SND_SEQ_PORT_CAP_SUBS_WRITE,
  SND_SEQ_PORT_CAP_WRITE,
  SND_SEQ_PORT_TYPE_APPLICATION,
  SND_SEQ_PORT_TYPE_MIDI_GENERIC,
  SND_SEQ_QUERY_SUBS_WRITE,
} from './libasound.ts';

/** The sequencer device alsa-lib's "default" sequencer opens (seq_hw.c). */
const SEQ_DEVICE = '/dev/snd/seq';

/** Errors in a row from snd_seq_event_input (other than -EAGAIN) after which a drain gives up until the next wake-up. */
const MAX_INPUT_ERRORS = 16;

function text(a: Asound, rc: number): string {
  return `${a.strerror(rc)} (${rc})`;
}

/** Opens a sequencer client; MidiError naming the device and what to do when there is none. */
function openClient(a: Asound, what: string): Handle {
  const out: [Handle] = [null];
  let said: AlsaLibMessage[] = [];
  const rc = captureAlsaMessages(() => {
    const r = a.seqOpen(out, 'default', SND_SEQ_OPEN_DUPLEX, SND_SEQ_NONBLOCK);
    if (r < 0) said = takeAlsaMessages();
    return r;
  });
  if (rc === -ERRNO.ENOENT || rc === -ERRNO.ENODEV) {
    throw new MidiError(`no ALSA sequencer (${SEQ_DEVICE}): modprobe snd-seq (snd_seq_open for ${what}: ${text(a, rc)}${foldAlsaMessages(said)})`, -rc);
  }
  if (rc < 0) throw new MidiError(`cannot open the ALSA sequencer (${SEQ_DEVICE}) for ${what}: ${text(a, rc)}${foldAlsaMessages(said)}`, -rc);
  return out[0];
}

/** A snd_seq_event_t copied out of libasound's buffer: the fields this backend decodes. */
export interface DecodedSeqEvent {
  type: number;
  sourceClient: number;
  sourcePort: number;
  channel: number;
  param: number;
  value: number;
  /** Note events: the note and its velocity (bytes 17 and 18). */
  note: number;
  velocity: number;
}

/** Decodes the fields of a 28-byte snd_seq_event_t (layout: SEQ_EVENT_* in ./libasound.ts). */
export function decodeSeqEvent(bytes: Uint8Array, view: DataView, into: DecodedSeqEvent): DecodedSeqEvent {
  into.type = bytes[SEQ_EVENT_TYPE_OFFSET]!;
  into.sourceClient = bytes[SEQ_EVENT_SOURCE_OFFSET]!;
  into.sourcePort = bytes[SEQ_EVENT_SOURCE_OFFSET + 1]!;
  into.channel = bytes[SEQ_EVENT_CTRL_CHANNEL_OFFSET]!;
  into.param = view.getUint32(SEQ_EVENT_CTRL_PARAM_OFFSET, true);
  into.value = view.getInt32(SEQ_EVENT_CTRL_VALUE_OFFSET, true);
  into.note = bytes[SEQ_EVENT_NOTE_NOTE_OFFSET]!;
  into.velocity = bytes[SEQ_EVENT_NOTE_VELOCITY_OFFSET]!;
  return into;
}

/**
 * The MidiEvent a decoded sequencer event means, or undefined for one this HAL does not pass on
 * (another type, or a value outside MIDI 1.0's 4-bit channel / 7-bit data ranges, which only a
 * client writing sequencer events directly could produce).
 */
export function midiEventOf(ev: DecodedSeqEvent, receivedNs: number): MidiEvent | undefined {
  if (ev.channel > 15) return undefined;
  const source = { client: ev.sourceClient, port: ev.sourcePort };
  if (ev.type === SND_SEQ_EVENT_CONTROLLER) {
    if (ev.param > 127 || ev.value < 0 || ev.value > 127) return undefined;
    return { type: 'controller', channel: ev.channel, controller: ev.param, value: ev.value, source, receivedNs };
  }
  if (ev.type === SND_SEQ_EVENT_PGMCHANGE) {
    if (ev.value < 0 || ev.value > 127) return undefined;
    return { type: 'program', channel: ev.channel, program: ev.value, source, receivedNs };
  }
  if (ev.type === SND_SEQ_EVENT_NOTEON || ev.type === SND_SEQ_EVENT_NOTEOFF) {
    if (ev.note > 127 || ev.velocity > 127) return undefined;
    return { type: ev.type === SND_SEQ_EVENT_NOTEON ? 'note-on' : 'note-off', channel: ev.channel, note: ev.note, velocity: ev.velocity, source, receivedNs };
  }
  return undefined;
}

export class AlsaMidiInputPort implements MidiInputPort {
  readonly address: MidiAddress;
  private seq: Handle;
  private readonly port: number;
  private readonly listeners = new Set<(ev: MidiEvent) => void>();
  private watch: FdReadyWatch | undefined;
  private readonly a = asound();
  // Preallocated cells: the drain loop allocates only the MidiEvent it hands out.
  private readonly evPtr = new NativeCell(POINTER_BYTES);
  private readonly evBytes = new Uint8Array(SEQ_EVENT_BYTES);
  private readonly evView = new DataView(this.evBytes.buffer);
  private readonly decoded: DecodedSeqEvent = { type: 0, sourceClient: 0, sourcePort: 0, channel: 0, param: 0, value: 0, note: 0, velocity: 0 };
  private readonly addrCell = new Uint8Array(SEQ_ADDR_BYTES);
  private subsQuery: Handle;
  /** Events taken from the sequencer but not passed on (other types, out-of-range values). */
  ignored = 0;
  /** Errors snd_seq_event_input reported (e.g. -ENOSPC: the kernel's input pool overflowed, events were lost). */
  inputErrors = 0;

  private constructor(
    seq: Handle,
    port: number,
    client: number,
    readonly clientName: string,
    readonly portName: string,
    private readonly nowNs: () => number,
    private readonly onClosed: (p: AlsaMidiInputPort) => void,
  ) {
    this.seq = seq;
    this.port = port;
    this.address = { client, port };
    const q: [Handle] = [null];
    this.check(this.a.seqQuerySubscribeMalloc(q), 'snd_seq_query_subscribe_malloc');
    this.subsQuery = q[0];
  }

  /** Opens the client, names it, creates the port and starts watching for events. */
  static async open(clientName: string, portName: string, nowNs: () => number, onClosed: (p: AlsaMidiInputPort) => void): Promise<AlsaMidiInputPort> {
    const a = asound();
    const what = `MIDI input '${clientName}' / '${portName}'`;
    const seq = openClient(a, what);
    let port: AlsaMidiInputPort | undefined;
    try {
      let rc = a.seqSetClientName(seq, clientName);
      if (rc < 0) throw new MidiError(`${what}: snd_seq_set_client_name: ${text(a, rc)}`, -rc);
      rc = a.seqCreateSimplePort(seq, portName, SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE, SND_SEQ_PORT_TYPE_MIDI_GENERIC | SND_SEQ_PORT_TYPE_APPLICATION);
      if (rc < 0) throw new MidiError(`${what}: snd_seq_create_simple_port: ${text(a, rc)}`, -rc);
      const portNumber = rc;
      const client = a.seqClientId(seq);
      if (client < 0) throw new MidiError(`${what}: snd_seq_client_id: ${text(a, client)}`, -client);
      port = new AlsaMidiInputPort(seq, portNumber, client, clientName, portName, nowNs, onClosed);
      const count = a.seqPollDescriptorsCount(seq, POLLIN);
      if (count !== 1) throw new MidiError(`${what}: expected one poll descriptor for input, libasound gives ${count}`);
      const pfd = new Uint8Array(POLLFD_BYTES);
      rc = a.seqPollDescriptors(seq, pfd, 1, POLLIN);
      if (rc !== 1) throw new MidiError(`${what}: snd_seq_poll_descriptors returned ${rc}`, rc < 0 ? -rc : undefined);
      const fd = new DataView(pfd.buffer).getInt32(0, true);
      const p = port;
      p.watch = await watchFdReadable(fd, () => p.drain(), (why) => p.lost(why));
      return p;
    } catch (e) {
      if (port) port.release();
      else a.seqClose(seq);
      throw e;
    }
  }

  private check(rc: number, op: string): number {
    if (rc < 0) throw new MidiError(`MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}'): ${op}: ${text(this.a, rc)}`, -rc);
    return rc;
  }

  private get handle(): Handle {
    if (this.seq === null) throw new MidiError(`MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}') is closed`);
    return this.seq;
  }

  /** Takes every pending event (until -EAGAIN) and hands each to the listeners in order. */
  private drain(): void {
    const seq = this.seq;
    if (seq === null) return;
    const a = this.a;
    let errors = 0;
    for (;;) {
      const rc = a.seqEventInput(seq, this.evPtr.bytes);
      if (rc === -ERRNO.EAGAIN) return;
      if (rc < 0) {
        this.inputErrors++;
        process.emitWarning(`MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}'): snd_seq_event_input: ${text(a, rc)}; events may have been lost`);
        if (++errors >= MAX_INPUT_ERRORS) return;
        continue;
      }
      errors = 0;
      a.memcpyFromAddress(this.evBytes, this.evPtr.pointer(), SEQ_EVENT_BYTES);
      const ev = midiEventOf(decodeSeqEvent(this.evBytes, this.evView, this.decoded), this.nowNs());
      if (!ev) {
        this.ignored++;
        continue;
      }
      for (const l of this.listeners) {
        try {
          l(ev);
        } catch (err) {
          // A listener's failure is the listener's: reported as uncaught, without stopping delivery.
          queueMicrotask(() => { throw err; });
        }
      }
    }
  }

  private lost(why: string): void {
    this.watch = undefined;
    process.emitWarning(`MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}'): no more events: ${why}`);
  }

  onEvent(listener: (ev: MidiEvent) => void): () => void {
    void this.handle; // throws when closed
    const wrapped = (ev: MidiEvent) => listener(ev);
    this.listeners.add(wrapped);
    return () => { this.listeners.delete(wrapped); };
  }

  /** Resolves `source` as aconnect does (snd_seq_parse_address); MidiError naming it when nothing matches. */
  private resolve(source: string): MidiAddress {
    const seq = this.handle;
    const rc = this.a.seqParseAddress(seq, this.addrCell, source);
    if (rc < 0) {
      throw new MidiError(
        `no MIDI source '${source}' on the ALSA sequencer (named as aconnect takes it: "20:0", "20", a client name or "client name:port"; aconnect -l lists them): ${text(this.a, rc)}`,
        -rc,
      );
    }
    return { client: this.addrCell[0]!, port: this.addrCell[1]! };
  }

  async connectFrom(source: string): Promise<MidiAddress> {
    const from = this.resolve(source);
    if (this.connections().some((c) => c.client === from.client && c.port === from.port)) return from;
    const rc = this.a.seqConnectFrom(this.handle, this.port, from.client, from.port);
    if (rc < 0) {
      throw new MidiError(`cannot subscribe MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}') to '${source}' (${formatMidiAddress(from)}): snd_seq_connect_from: ${text(this.a, rc)}`, -rc);
    }
    return from;
  }

  async disconnectFrom(source: string): Promise<void> {
    const from = this.resolve(source);
    const rc = this.a.seqDisconnectFrom(this.handle, this.port, from.client, from.port);
    if (rc < 0) {
      throw new MidiError(`cannot unsubscribe MIDI input ${formatMidiAddress(this.address)} ('${this.clientName}') from '${source}' (${formatMidiAddress(from)}): snd_seq_disconnect_from: ${text(this.a, rc)}`, -rc);
    }
  }

  connections(): MidiAddress[] {
    const seq = this.handle;
    const a = this.a;
    const q = this.subsQuery;
    this.addrCell[0] = this.address.client;
    this.addrCell[1] = this.address.port;
    a.seqQuerySubscribeSetRoot(q, this.addrCell);
    a.seqQuerySubscribeSetType(q, SND_SEQ_QUERY_SUBS_WRITE);
    a.seqQuerySubscribeSetIndex(q, 0);
    const out: MidiAddress[] = [];
    while (a.seqQueryPortSubscribers(seq, q) >= 0) {
      a.memcpyFromAddress(this.addrCell, a.seqQuerySubscribeGetAddr(q), SEQ_ADDR_BYTES);
      out.push({ client: this.addrCell[0]!, port: this.addrCell[1]! });
      a.seqQuerySubscribeSetIndex(q, a.seqQuerySubscribeGetIndex(q) + 1);
    }
    return out;
  }

  /** Closes the client (which deletes its port and every subscription to it) without waiting. */
  private release(): void {
    if (this.seq === null) return;
    this.a.seqClose(this.seq);
    this.seq = null;
    if (this.subsQuery !== null) this.a.seqQuerySubscribeFree(this.subsQuery);
    this.subsQuery = null;
    this.listeners.clear();
  }

  private closing: Promise<void> | undefined;

  /** Idempotent: a second caller waits for the first close (the descriptor is released once, after the thread let go of it). */
  close(): Promise<void> {
    if (this.seq === null && !this.closing) return Promise.resolve();
    this.closing ??= (async () => {
      const watch = this.watch;
      this.watch = undefined;
      // The thread must stop polling the descriptor before libasound closes it.
      if (watch) await watch.remove();
      this.release();
      this.onClosed(this);
    })();
    return this.closing;
  }
}

export class AlsaSequencer implements MidiSequencer {
  private query: Handle;
  private clientInfo: Handle;
  private portInfo: Handle;
  private readonly ports = new Set<AlsaMidiInputPort>();
  private readonly a: Asound;

  private constructor(private readonly nowNs: () => number) {
    this.a = asound();
    this.query = openClient(this.a, 'listing ports');
    const ci: [Handle] = [null];
    const pi: [Handle] = [null];
    let rc = this.a.seqClientInfoMalloc(ci);
    if (rc >= 0) rc = this.a.seqPortInfoMalloc(pi);
    if (rc < 0) {
      if (ci[0] !== null) this.a.seqClientInfoFree(ci[0]);
      this.a.seqClose(this.query);
      throw new MidiError(`ALSA sequencer: cannot allocate client/port info: ${text(this.a, rc)}`, -rc);
    }
    this.clientInfo = ci[0];
    this.portInfo = pi[0];
    // Named so that it can be told apart in /proc/asound/seq/clients (it has no ports).
    this.a.seqSetClientName(this.query, 'sbc-audio (port listing)');
  }

  /** Opens the sequencer; MidiError "no ALSA sequencer (/dev/snd/seq): modprobe snd-seq" when there is none. */
  static open(nowNs: () => number): AlsaSequencer {
    try {
      asound();
    } catch (e) {
      throw new MidiError(`ALSA sequencer: libasound.so.2 cannot be loaded: ${(e as Error).message}`);
    }
    return new AlsaSequencer(nowNs);
  }

  get closed(): boolean {
    return this.query === null;
  }

  private get handle(): Handle {
    if (this.query === null) throw new MidiError('the ALSA sequencer was closed');
    return this.query;
  }

  listPorts(): MidiPortInfo[] {
    const seq = this.handle;
    const a = this.a;
    const ci = this.clientInfo;
    const pi = this.portInfo;
    const out: MidiPortInfo[] = [];
    a.seqClientInfoSetClient(ci, -1);
    while (a.seqQueryNextClient(seq, ci) >= 0) {
      const client = a.seqClientInfoGetClient(ci);
      const clientName = a.seqClientInfoGetName(ci);
      a.seqPortInfoSetClient(pi, client);
      a.seqPortInfoSetPort(pi, -1);
      while (a.seqQueryNextPort(seq, pi) >= 0) {
        const cap = a.seqPortInfoGetCapability(pi);
        if (cap & SND_SEQ_PORT_CAP_NO_EXPORT) continue; // as aconnect -l
        const read = SND_SEQ_PORT_CAP_READ | SND_SEQ_PORT_CAP_SUBS_READ;
        const write = SND_SEQ_PORT_CAP_WRITE | SND_SEQ_PORT_CAP_SUBS_WRITE;
        out.push({
          address: { client: a.seqPortInfoGetClient(pi), port: a.seqPortInfoGetPort(pi) },
          clientName,
          portName: a.seqPortInfoGetName(pi),
          source: (cap & read) === read,
          destination: (cap & write) === write,
        });
      }
    }
    return out;
  }

  async openInput(clientName: string, portName: string): Promise<MidiInputPort> {
    void this.handle; // throws when closed
    if (!clientName || !portName) throw new MidiError(`openInput: client and port names must not be empty (got '${clientName}', '${portName}')`);
    const port = await AlsaMidiInputPort.open(clientName, portName, this.nowNs, (p) => this.ports.delete(p));
    if (this.query === null) {
      await port.close();
      throw new MidiError('the ALSA sequencer was closed while the input was opening');
    }
    this.ports.add(port);
    return port;
  }

  async close(): Promise<void> {
    if (this.query === null) return;
    for (const p of [...this.ports]) await p.close();
    this.ports.clear();
    this.a.seqClientInfoFree(this.clientInfo);
    this.a.seqPortInfoFree(this.portInfo);
    this.a.seqClose(this.query);
    this.query = null;
    this.clientInfo = null;
    this.portInfo = null;
  }
}
