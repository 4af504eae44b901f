/**
 * MIDI input through a sequencer: the HAL contract every MIDI backend (the ALSA sequencer through
 * libasound, the simulated sequencer) meets. A sequencer client owns ports; a source's events reach
 * every port subscribed to it (as `aconnect SRC DEST` subscribes). Only what the control layer
 * takes is decoded: controller changes and program changes.
 */

/** A port's address on the sequencer: client number and port number (`aconnect -l` shows "128:0"). */
export interface MidiAddress {
  client: number;
  port: number;
}

export interface MidiPortInfo {
  address: MidiAddress;
  clientName: string;
  portName: string;
  /** Others can read from it and subscribe to it: a source (SND_SEQ_PORT_CAP_READ | SUBS_READ). */
  source: boolean;
  /** Others can write to it and subscribe it: a destination (SND_SEQ_PORT_CAP_WRITE | SUBS_WRITE). */
  destination: boolean;
}

export type MidiEvent =
  | {
    type: 'controller';
    /** 0..15 as on the wire (people say channel 1..16). */
    channel: number;
    /** Controller number 0..127. */
    controller: number;
    /** 0..127. */
    value: number;
    source: MidiAddress;
    /** CLOCK_MONOTONIC ns (the HAL clock's timeline) when the event was taken from the sequencer. */
    receivedNs: number;
  }
  | { type: 'program'; channel: number; program: number; source: MidiAddress; receivedNs: number }
  /**
   * A note on or off (issue 30: synths hosted in a stream's chain play them): channel 0..15, note
   * and velocity 0..127. A note-on with velocity 0 is passed on as it came; the synth host turns it
   * into a note-off (dssi.h asks hosts to).
   */
  | { type: 'note-on' | 'note-off'; channel: number; note: number; velocity: number; source: MidiAddress; receivedNs: number };

/** The body of a MidiEvent (what a source sends; the sequencer adds the source and the time). */
export type MidiEventBody =
  | { type: 'controller'; channel: number; controller: number; value: number }
  | { type: 'program'; channel: number; program: number }
  | { type: 'note-on' | 'note-off'; channel: number; note: number; velocity: number };

export interface MidiInputPort {
  /** This port's own address, e.g. for `aconnect 20:0 128:0`. */
  readonly address: MidiAddress;
  readonly clientName: string;
  readonly portName: string;
  /** Listeners get events in arrival order; returns the unsubscribe function. */
  onEvent(listener: (ev: MidiEvent) => void): () => void;
  /**
   * Subscribes this port to a source, named as aconnect takes it: "20:0", "20" (port 0), a client
   * name ("Virtual Raw MIDI 2-0") or "client name:port". Resolves with the source's address;
   * MidiError when none matches or the sequencer refuses the subscription.
   */
  connectFrom(source: string): Promise<MidiAddress>;
  disconnectFrom(source: string): Promise<void>;
  /** The sources subscribed to this port now, whoever made the subscription (this port or aconnect). */
  connections(): MidiAddress[];
  /**
   * Closes the port and its client (every subscription to it goes). Until then an open port on
   * the ALSA sequencer keeps the process alive, as an open socket does; afterwards nothing of it
   * does. Closing twice is fine; any other use after close is a MidiError.
   */
  close(): Promise<void>;
}

export interface MidiSequencer {
  /** Every client's ports, as `aconnect -l` lists them (this process's own included). */
  listPorts(): MidiPortInfo[];
  /** A new sequencer client named `clientName` with one writable, subscribable port `portName`. */
  openInput(clientName: string, portName: string): Promise<MidiInputPort>;
  close(): Promise<void>;
}

export class MidiError extends Error {
  constructor(message: string, readonly errno?: number) {
    super(message);
    this.name = 'MidiError';
  }
}

/** "128:0" */
export function formatMidiAddress(a: MidiAddress): string {
  return `${a.client}:${a.port}`;
}
