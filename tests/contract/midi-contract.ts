/**
 * The MIDI HAL contract: every sequencer backend (the simulated one, the ALSA sequencer in the QEMU
 * guest) must pass it. The fixture brings a source outside the sequencer object under test and a
 * way to make it send: on the sim, SimMidiSource; in the guest, snd-virmidi's raw MIDI port driven
 * by alsa-utils' amidi.
 *
 * Expected values are the messages the test sends, as MIDI 1.0 defines them (channel 0..15 in the
 * status byte's low nibble, 7-bit data), never values read back from the backend.
 */
import assert from 'node:assert/strict';
import { MidiError, type MidiAddress, type MidiEvent, type MidiInputPort, type MidiSequencer } from '../../src/hal/midi.ts';

export type MidiMessage =
  | { type: 'controller'; channel: number; controller: number; value: number }
  | { type: 'program'; channel: number; program: number }
  | { type: 'note-on' | 'note-off'; channel: number; note: number; velocity: number };

export interface MidiFixture {
  sequencer: MidiSequencer;
  /** A source port outside the sequencer object under test, as `aconnect -l` shows it. */
  source: { address: MidiAddress; clientName: string; portName: string };
  /** Makes the source send these messages in this order; resolves once they are sent. */
  send(messages: readonly MidiMessage[]): Promise<void>;
  /** The clock events are stamped on (receivedNs). */
  nowNs(): number;
  /** How long nothing must arrive before the test concludes nothing will (ms of wall time). */
  quietMs: number;
  close(): Promise<void>;
}

/** The bytes of a message on the wire (MIDI 1.0: Bn cc vv, Cn pp, 9n kk vv, 8n kk vv), as amidi -S takes them. */
export function midiBytes(m: MidiMessage): number[] {
  if (m.type === 'controller') return [0xb0 | m.channel, m.controller, m.value];
  if (m.type === 'program') return [0xc0 | m.channel, m.program];
  return [(m.type === 'note-on' ? 0x90 : 0x80) | m.channel, m.note, m.velocity];
}

/** What a received event says, without its source and time, to compare with what was sent. */
export function messageOf(ev: MidiEvent): MidiMessage {
  if (ev.type === 'controller') return { type: 'controller', channel: ev.channel, controller: ev.controller, value: ev.value };
  if (ev.type === 'program') return { type: 'program', channel: ev.channel, program: ev.program };
  return { type: ev.type, channel: ev.channel, note: ev.note, velocity: ev.velocity };
}

/** Resolves when `events` holds at least `n` entries; rejects after `ms` naming what came. */
export function waitForEvents(events: readonly MidiEvent[], n: number, ms = 10000): Promise<void> {
  const deadline = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const check = () => {
      if (events.length >= n) resolve();
      else if (Date.now() > deadline) reject(new Error(`got ${events.length} of ${n} MIDI events: ${JSON.stringify(events.slice(-5).map(messageOf))}`));
      else setTimeout(check, 2);
    };
    check();
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let serial = 0;

/**
 * Defines the contract's tests. `unavailable()`, when given, says why the backend cannot run here
 * (the suite then skips, e.g. the ALSA sequencer off the QEMU guest), or undefined when it can.
 */
export function midiContract(name: string, make: () => Promise<MidiFixture>, unavailable?: () => string | undefined): void {
  describe(`MIDI sequencer contract: ${name}`, function () {
    this.timeout(60000);
    before(function () {
      if (unavailable?.() !== undefined) this.skip(); // reason: unavailable() names it
    });
    let fx: MidiFixture;
    let opened: MidiInputPort[];
    const open = async (): Promise<MidiInputPort> => {
      serial++;
      const p = await fx.sequencer.openInput(`contract client ${process.pid}-${serial}`, `contract in ${serial}`);
      opened.push(p);
      return p;
    };
    const collect = (p: MidiInputPort) => {
      const events: MidiEvent[] = [];
      p.onEvent((ev) => events.push(ev));
      return events;
    };
    const src = () => `${fx.source.address.client}:${fx.source.address.port}`;

    beforeEach(async () => {
      fx = await make();
      opened = [];
    });
    afterEach(async () => {
      if (!fx) return;
      for (const p of opened) await p.close();
      await fx.close();
    });

    it('opens an input port that listPorts shows with its names, as a destination and not a source', async () => {
      const before = fx.sequencer.listPorts();
      const p = await open();
      assert.equal(before.some((i) => i.clientName === p.clientName), false, 'not listed before it was opened');
      // ALSA numbers user clients from 128 (the kernel's sequencer: 0..127 are system and card clients).
      assert.ok(p.address.client >= 128 && p.address.client <= 191, `user client number, got ${p.address.client}`);
      const mine = fx.sequencer.listPorts().filter((i) => i.address.client === p.address.client);
      assert.deepEqual(mine, [{ address: p.address, clientName: p.clientName, portName: p.portName, source: false, destination: true }]);
      const theirs = fx.sequencer.listPorts().find((i) => i.address.client === fx.source.address.client && i.address.port === fx.source.address.port);
      assert.ok(theirs, `the fixture's source ${src()} is listed`);
      assert.equal(theirs.clientName, fx.source.clientName);
      assert.equal(theirs.portName, fx.source.portName);
      assert.equal(theirs.source, true, 'the source can be read from and subscribed to');
      assert.deepEqual(p.connections(), [], 'nothing subscribed yet');
    });

    it('connects from a source named "client:port" and receives what it sends, stamped with its address', async () => {
      const p = await open();
      const events = collect(p);
      const t0 = fx.nowNs();
      assert.deepEqual(await p.connectFrom(src()), fx.source.address);
      assert.deepEqual(p.connections(), [fx.source.address]);
      await fx.send([{ type: 'controller', channel: 0, controller: 7, value: 0x40 }]);
      await waitForEvents(events, 1);
      assert.deepEqual(messageOf(events[0]!), { type: 'controller', channel: 0, controller: 7, value: 64 });
      assert.deepEqual(events[0]!.source, fx.source.address);
      assert.ok(events[0]!.receivedNs >= t0 && events[0]!.receivedNs <= fx.nowNs(), `receivedNs ${events[0]!.receivedNs} within the test (${t0}..)`);
    });

    it('connects from a source named by its client name, and by "client name:port"', async () => {
      const a = await open();
      assert.deepEqual(await a.connectFrom(fx.source.clientName), fx.source.address);
      assert.deepEqual(a.connections(), [fx.source.address]);
      const b = await open();
      assert.deepEqual(await b.connectFrom(`${fx.source.clientName}:${fx.source.address.port}`), fx.source.address);
      assert.deepEqual(b.connections(), [fx.source.address]);
    });

    it('refuses a source nothing matches with a MidiError naming it, and subscribes nothing', async () => {
      const p = await open();
      const bogus = 'No Such MIDI Device 4711';
      await assert.rejects(p.connectFrom(bogus), (e: unknown) => e instanceof MidiError && e.message.includes(`'${bogus}'`));
      assert.deepEqual(p.connections(), []);
    });

    it('delivers 50 controller changes and interleaved program changes, all, in order, with exact channel/number/value', async () => {
      const p = await open();
      await p.connectFrom(src());
      const events = collect(p);
      const sent: MidiMessage[] = [];
      for (let i = 0; i < 50; i++) {
        // Every channel, controller numbers and values across the 7-bit range (0 and 127 included).
        sent.push({ type: 'controller', channel: i % 16, controller: (i * 37) % 128, value: i === 49 ? 127 : (i * 13) % 128 });
        if (i % 10 === 9) sent.push({ type: 'program', channel: 15 - (i % 16), program: 127 - i });
      }
      const t0 = fx.nowNs();
      await fx.send(sent);
      await waitForEvents(events, sent.length);
      await sleep(fx.quietMs);
      assert.deepEqual(events.map(messageOf), sent);
      for (const ev of events) assert.deepEqual(ev.source, fx.source.address);
      for (let i = 1; i < events.length; i++) assert.ok(events[i]!.receivedNs >= events[i - 1]!.receivedNs, 'stamps do not go back');
      assert.ok(events[0]!.receivedNs >= t0);
    });

    it('delivers note-on and note-off with exact channel, note and velocity, in order', async () => {
      const p = await open();
      await p.connectFrom(src());
      const events = collect(p);
      const sent: MidiMessage[] = [];
      for (let i = 0; i < 8; i++) {
        // Notes 0 and 127, velocities 1 and 127 among them; a note-off's release velocity passed on too.
        sent.push({ type: 'note-on', channel: (i * 5) % 16, note: i === 7 ? 127 : i * 17, velocity: i === 0 ? 1 : i === 7 ? 127 : 10 + i * 11 });
        sent.push({ type: 'note-off', channel: (i * 5) % 16, note: i === 7 ? 127 : i * 17, velocity: i * 3 });
      }
      await fx.send(sent);
      await waitForEvents(events, sent.length);
      await sleep(fx.quietMs);
      assert.deepEqual(events.map(messageOf), sent);
    });

    it('stops delivering to a port after disconnectFrom, while a port still connected gets the same event', async () => {
      const kept = await open();
      const dropped = await open();
      await kept.connectFrom(src());
      await dropped.connectFrom(src());
      const keptEvents = collect(kept);
      const droppedEvents = collect(dropped);
      await fx.send([{ type: 'controller', channel: 3, controller: 20, value: 1 }]);
      await waitForEvents(keptEvents, 1);
      await waitForEvents(droppedEvents, 1);
      await dropped.disconnectFrom(src());
      assert.deepEqual(dropped.connections(), []);
      assert.deepEqual(kept.connections(), [fx.source.address]);
      await fx.send([{ type: 'controller', channel: 3, controller: 20, value: 2 }]);
      await waitForEvents(keptEvents, 2);
      await sleep(fx.quietMs);
      assert.deepEqual(keptEvents.map(messageOf).map((m) => (m as { value: number }).value), [1, 2]);
      assert.deepEqual(droppedEvents.map(messageOf).map((m) => (m as { value: number }).value), [1], 'nothing after disconnectFrom');
      await assert.rejects(dropped.disconnectFrom(src()), MidiError, 'disconnecting what is not connected is an error');
    });

    it('stops calling a listener once it unsubscribes', async () => {
      const p = await open();
      await p.connectFrom(src());
      const all = collect(p);
      const early: MidiEvent[] = [];
      const off = p.onEvent((ev) => early.push(ev));
      await fx.send([{ type: 'program', channel: 9, program: 5 }]);
      await waitForEvents(all, 1);
      off();
      await fx.send([{ type: 'program', channel: 9, program: 6 }]);
      await waitForEvents(all, 2);
      await sleep(fx.quietMs);
      assert.deepEqual(all.map(messageOf), [{ type: 'program', channel: 9, program: 5 }, { type: 'program', channel: 9, program: 6 }]);
      assert.deepEqual(early.map(messageOf), [{ type: 'program', channel: 9, program: 5 }]);
    });

    it('closes a port: it leaves listPorts, and using it is a MidiError', async () => {
      const p = await open();
      await p.connectFrom(src());
      assert.ok(fx.sequencer.listPorts().some((i) => i.address.client === p.address.client));
      await p.close();
      assert.equal(fx.sequencer.listPorts().some((i) => i.address.client === p.address.client), false, 'gone from listPorts');
      assert.ok(fx.sequencer.listPorts().some((i) => i.address.client === fx.source.address.client), 'the source stays');
      assert.throws(() => p.connections(), MidiError);
      await assert.rejects(p.connectFrom(src()), MidiError);
      await p.close(); // twice is fine
    });
  });
}
