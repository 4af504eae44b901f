/** The MIDI HAL contract on the simulated sequencer, and what only the simulation offers. */
import assert from 'node:assert/strict';
import { MidiError, type MidiEvent } from '../../src/hal/midi.ts';
import { SimHal, VirtualClock } from '../../src/hal/sim/index.ts';
import { midiContract, waitForEvents } from './midi-contract.ts';

midiContract('simulated sequencer on a virtual clock', async () => {
  const hal = new SimHal({ clock: new VirtualClock(1e9, true) });
  const source = hal.simMidi().addSource('Sim Knob Box', 'Sim Knob Box MIDI 1');
  return {
    sequencer: await hal.midi(),
    source: { address: source.address, clientName: source.clientName, portName: source.portName },
    async send(messages) {
      for (const m of messages) {
        if (m.type === 'controller') source.controlChange(m.channel, m.controller, m.value);
        else if (m.type === 'program') source.programChange(m.channel, m.program);
        else if (m.type === 'note-on') source.noteOn(m.channel, m.note, m.velocity);
        else source.noteOff(m.channel, m.note, m.velocity);
      }
    },
    nowNs: () => hal.clock.nowNs(),
    quietMs: 20,
    close: () => hal.close(),
  };
});

describe('simulated MIDI sequencer (SimHal.midi)', () => {
  it('is one object per SimHal, and a new one after it was closed', async () => {
    const hal = new SimHal();
    const a = await hal.midi();
    assert.equal(await hal.midi(), a);
    assert.notEqual(await new SimHal().midi(), a, 'another SimHal has its own');
    await a.close();
    assert.throws(() => a.listPorts(), MidiError);
    assert.notEqual(await hal.midi(), a);
    await hal.close();
  });

  it('numbers sources from 20 and inputs from 128, as ALSA numbers card and user clients', async () => {
    const hal = new SimHal();
    const seq = hal.simMidi();
    const s1 = seq.addSource('One', 'One port');
    const s2 = seq.addSource('Two', 'Two port');
    const input = await seq.openInput('Ours', 'in');
    assert.deepEqual([s1.address, s2.address, input.address], [{ client: 20, port: 0 }, { client: 21, port: 0 }, { client: 128, port: 0 }]);
    await hal.close();
  });

  it('resolves names as snd_seq_parse_address does: "C.P", "C" (port 0), an exact client name before a prefix', async () => {
    const hal = new SimHal();
    const seq = hal.simMidi();
    const long = seq.addSource('Knob Box Deluxe', 'p');
    const short = seq.addSource('Knob Box', 'p');
    assert.deepEqual(seq.resolve('21.0'), short.address);
    assert.deepEqual(seq.resolve('20'), long.address);
    assert.deepEqual(seq.resolve('Knob Box'), short.address, 'exact match wins over the earlier prefix match');
    assert.deepEqual(seq.resolve('Knob Box Del'), long.address, 'a prefix matches');
    assert.throws(() => seq.resolve('Knob Box:x'), MidiError);
    await hal.close();
  });

  it('stamps events with the HAL clock and delivers them asynchronously, never inside the send', async () => {
    const clock = new VirtualClock(5e9);
    const hal = new SimHal({ clock });
    const source = hal.simMidi().addSource('Stamp', 'p');
    const input = await (await hal.midi()).openInput('Ours', 'in');
    await input.connectFrom('Stamp');
    const events: MidiEvent[] = [];
    input.onEvent((ev) => events.push(ev));
    clock.advanceTo(7e9);
    source.controlChange(1, 2, 3);
    assert.equal(events.length, 0, 'not delivered synchronously');
    await waitForEvents(events, 1);
    assert.equal(events[0]!.receivedNs, 7e9);
    await hal.close();
  });

  it('refuses out-of-range messages naming the field and its range', async () => {
    const hal = new SimHal();
    const source = hal.simMidi().addSource('Range', 'p');
    assert.throws(() => source.controlChange(16, 0, 0), /channel must be an integer 0\.\.15, got 16/);
    assert.throws(() => source.controlChange(0, 128, 0), /controller must be an integer 0\.\.127, got 128/);
    assert.throws(() => source.controlChange(0, 0, -1), /value must be an integer 0\.\.127, got -1/);
    assert.throws(() => source.programChange(0, 1.5), /program must be an integer 0\.\.127, got 1\.5/);
    source.controlChange(15, 127, 127); // the range's ends are fine
    await hal.close();
  });

  it('refuses to subscribe to a port that is not a source (another input)', async () => {
    const hal = new SimHal();
    const seq = await hal.midi();
    const a = await seq.openInput('A', 'in');
    const b = await seq.openInput('B', 'in');
    await assert.rejects(a.connectFrom(`${b.address.client}:0`), /not a readable port/);
    await assert.rejects(a.connectFrom('5:0'), /no port 5:0/);
    await hal.close();
  });
});
