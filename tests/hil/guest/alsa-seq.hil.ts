/**
 * The MIDI HAL on the real ALSA sequencer (guest only: snd-seq and snd-virmidi loaded by
 * tests/hil/guest-init.sh). The outside world is alsa-utils, programs this project did not write:
 * `amidi -p hw:VirMIDI,0 -S "B0 07 40"` writes raw MIDI bytes into snd-virmidi's first raw MIDI
 * device, whose sequencer client ("Virtual Raw MIDI <card>-0", port 0) turns them into sequencer
 * events for whoever subscribed to it; `aconnect` lists clients and makes subscriptions itself.
 *
 * The VirMIDI card is found by its id in /proc/asound/cards, never by its index (the other sound
 * modules load first, so its number depends on the order). Facts relied on (the kernel's
 * sound/core/seq/seq_virmidi.c, sound/drivers/virmidi.c): snd-virmidi makes 4 raw MIDI devices by
 * default, each with one sequencer client named "Virtual Raw MIDI <card>-<device>"; in its default
 * (dispatch) mode, bytes written while nobody is subscribed to the client's port are dropped.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { MidiError, type MidiEvent, type MidiPortInfo } from '../../../src/hal/midi.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { fdReadyThreadRunning } from '../../../src/hal/linux/fd-ready.ts';
import { LinuxHal } from '../../../src/hal/linux/index.ts';
import { midiBytes, midiContract, messageOf, type MidiMessage, waitForEvents } from '../../contract/midi-contract.ts';
import { hilEnv } from '../env.ts';
import { run } from '../peers.ts';

const env = hilEnv();
const SEQ = '/dev/snd/seq';

/** The VirMIDI card's index from /proc/asound/cards (" 2 [VirMIDI        ]: VirMIDI - VirMIDI"), or undefined. */
function virmidiCard(): number | undefined {
  if (!existsSync('/proc/asound/cards')) return undefined;
  for (const line of readFileSync('/proc/asound/cards', 'utf8').split('\n')) {
    const m = /^\s*(\d+)\s+\[(\S+)\s*\]/.exec(line);
    if (m && m[2] === 'VirMIDI') return Number(m[1]);
  }
  return undefined;
}

/** Why the ALSA sequencer tests cannot run here, or undefined when they can. */
function unavailable(): string | undefined {
  if (env.tier !== 'guest') return 'guest only';
  if (!existsSync(SEQ)) return `no ${SEQ} (snd-seq not loaded)`;
  if (virmidiCard() === undefined) return 'no VirMIDI card (snd-virmidi not loaded)';
  return undefined;
}

/** The raw MIDI device amidi writes to, by card id (hw:VirMIDI,N). */
const rawDevice = (device: number) => `hw:VirMIDI,${device}`;

/** amidi -S takes hex bytes separated by spaces. */
async function amidiSend(device: number, messages: readonly MidiMessage[]): Promise<void> {
  const hex = messages.flatMap(midiBytes).map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(' ');
  await run('amidi', ['-p', rawDevice(device), '-S', hex]);
}

/** The sequencer port of VirMIDI raw MIDI device `device`, as our listPorts shows it. */
function virmidiPort(ports: MidiPortInfo[], device: number): MidiPortInfo {
  const card = virmidiCard()!;
  const want = `Virtual Raw MIDI ${card}-${device}`;
  const p = ports.find((i) => i.clientName === want && i.address.port === 0);
  assert.ok(p, `no sequencer client '${want}'; have: ${ports.map((i) => `${i.address.client}:${i.address.port} '${i.clientName}'`).join(', ')}`);
  return p;
}

interface AconnectPort {
  client: number;
  clientName: string;
  port: number;
  portName: string;
  connectedFrom: string[];
}

/** Parses `aconnect -l`: "client 20: 'Name' [type=…]", then "    0 'Port name   '" and "\tConnected From: 20:0, …". */
export function parseAconnectList(out: string): AconnectPort[] {
  const ports: AconnectPort[] = [];
  let client: { n: number; name: string } | undefined;
  for (const line of out.split('\n')) {
    const c = /^client (\d+): '(.*)' \[/.exec(line);
    if (c) {
      client = { n: Number(c[1]), name: c[2]! };
      continue;
    }
    const p = /^\s+(\d+) '(.*)'\s*$/.exec(line);
    if (p && client) {
      ports.push({ client: client.n, clientName: client.name, port: Number(p[1]), portName: p[2]!.trimEnd(), connectedFrom: [] });
      continue;
    }
    const f = /^\s+Connected From: (.*)$/.exec(line);
    if (f && ports.length) ports[ports.length - 1]!.connectedFrom = f[1]!.split(',').map((s) => s.trim().replace(/\[.*\]$/, ''));
  }
  return ports;
}

describe('aconnect -l parsing (offline)', () => {
  it('the parser of aconnect -l reads the lines it is meant to (offline sample)', () => {
    const sample = [
      "client 0: 'System' [type=kernel]",
      "    0 'Timer           '",
      "client 20: 'Virtual Raw MIDI 2-0' [type=kernel,card=2]",
      "    0 'VirMIDI 2-0     '",
      "client 129: 'ours' [type=user,pid=77]",
      "    0 'in'",
      '\tConnected From: 20:0, 21:0[real:0]',
    ].join('\n');
    assert.deepEqual(parseAconnectList(sample), [
      { client: 0, clientName: 'System', port: 0, portName: 'Timer', connectedFrom: [] },
      { client: 20, clientName: 'Virtual Raw MIDI 2-0', port: 0, portName: 'VirMIDI 2-0', connectedFrom: [] },
      { client: 129, clientName: 'ours', port: 0, portName: 'in', connectedFrom: ['20:0', '21:0'] },
    ]);
  });
});

describe('ALSA sequencer (guest: snd-seq, snd-virmidi, amidi and aconnect)', function () {
  this.timeout(120000);
  before(function () {
    if (unavailable() !== undefined) this.skip(); // reason: guest only (needs /dev/snd/seq and the snd-virmidi card)
  });

  it('lists the same clients and ports as aconnect -l, ours included', async () => {
    const hal = new LinuxHal();
    try {
      const seq = await hal.midi();
      assert.equal(await hal.midi(), seq, 'one sequencer object per LinuxHal');
      const input = await seq.openInput('sbc-audio hil', 'control in');
      const theirs = parseAconnectList(await run('aconnect', ['-l']));
      const ours = seq.listPorts();
      const fmt = (c: number, p: number, cn: string, pn: string) => `${c}:${p} '${cn}' '${pn}'`;
      // aconnect -l pads port names to 16 columns: compare with trailing blanks removed.
      assert.deepEqual(
        ours.map((i) => fmt(i.address.client, i.address.port, i.clientName, i.portName.trimEnd())).sort(),
        theirs.map((i) => fmt(i.client, i.port, i.clientName, i.portName)).sort(),
      );
      assert.ok(theirs.some((i) => i.client === input.address.client && i.port === input.address.port && i.clientName === 'sbc-audio hil' && i.portName === 'control in'),
        'aconnect -l shows our client and port');
      assert.equal(virmidiPort(ours, 0).source, true);
      console.log(`      ${ours.length} ports match aconnect -l; ours is ${input.address.client}:${input.address.port}`);
    } finally {
      await hal.close();
    }
  });

  it('sees a subscription aconnect made, delivers through it, and sees it go (a port we connected keeps receiving)', async () => {
    const hal = new LinuxHal();
    try {
      const seq = await hal.midi();
      const src = virmidiPort(seq.listPorts(), 1);
      const srcName = `${src.address.client}:${src.address.port}`;
      const theirs = await seq.openInput('sbc-audio hil aconnect', 'in');
      const control = await seq.openInput('sbc-audio hil control', 'in');
      await control.connectFrom(srcName);
      const got: MidiEvent[] = [];
      const controlGot: MidiEvent[] = [];
      theirs.onEvent((ev) => got.push(ev));
      control.onEvent((ev) => controlGot.push(ev));
      const ours = `${theirs.address.client}:${theirs.address.port}`;
      assert.deepEqual(theirs.connections(), []);
      await run('aconnect', [srcName, ours]);
      assert.deepEqual(theirs.connections(), [src.address], 'the subscription aconnect made');
      const listed = parseAconnectList(await run('aconnect', ['-l'])).find((i) => i.client === theirs.address.client)!;
      assert.deepEqual(listed.connectedFrom, [srcName], 'aconnect -l agrees');
      await amidiSend(1, [{ type: 'controller', channel: 0, controller: 7, value: 0x40 }]);
      await waitForEvents(got, 1);
      await waitForEvents(controlGot, 1);
      assert.deepEqual(messageOf(got[0]!), { type: 'controller', channel: 0, controller: 7, value: 64 });
      assert.deepEqual(got[0]!.source, src.address);
      await run('aconnect', ['-d', srcName, ours]);
      assert.deepEqual(theirs.connections(), [], 'gone once aconnect -d removed it');
      await amidiSend(1, [{ type: 'controller', channel: 0, controller: 7, value: 0x41 }]);
      await waitForEvents(controlGot, 2);
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(got.length, 1, 'nothing after aconnect -d');
      assert.deepEqual(messageOf(controlGot[1]!), { type: 'controller', channel: 0, controller: 7, value: 65 });
    } finally {
      await hal.close();
    }
  });

  it('keeps the event loop running while it waits for events, and leaves no thread once closed', async () => {
    const hal = new LinuxHal();
    const seq = await hal.midi();
    const input = await seq.openInput('sbc-audio hil loop', 'in');
    await input.connectFrom(`${virmidiPort(seq.listPorts(), 2).address.client}:0`);
    assert.equal(fdReadyThreadRunning(), true, 'a readiness thread watches the open port');
    let ticks = 0;
    const t = setInterval(() => ticks++, 5);
    await new Promise((r) => setTimeout(r, 300));
    clearInterval(t);
    assert.ok(ticks >= 20, `the event loop ran (${ticks} ticks of 5 ms in 300 ms)`);
    await hal.close();
    await new Promise((r) => setTimeout(r, 200)); // the thread ends on its own after the last port closed
    assert.equal(fdReadyThreadRunning(), false, 'no readiness thread left');
    await assert.rejects(input.connectFrom('20:0'), MidiError);
  });

  it('lets a process that closed its port exit by itself; one that keeps it open stays (control)', async () => {
    const root = resolve(import.meta.dirname, '../../..');
    const script = (closeIt: boolean) => `
      import { LinuxHal } from ${JSON.stringify(`${root}/src/hal/linux/index.ts`)};
      const hal = new LinuxHal();
      const seq = await hal.midi();
      const p = await seq.openInput('sbc-audio hil exit', 'in');
      p.onEvent(() => {});
      await p.connectFrom(${JSON.stringify(`Virtual Raw MIDI ${virmidiCard()}-3`)});
      console.log('opened');
      ${closeIt ? 'await hal.close();' : ''}
    `;
    /**
     * Runs the script in a child node; `killAfterOpenedMs`: kill it that long after it printed
     * 'opened' (start-up under TCG takes seconds, so the control's window starts there).
     */
    const runChild = (closeIt: boolean, killAfterOpenedMs: number) => new Promise<{ code: number | null; out: string; killed: boolean }>((res) => {
      const file = `/tmp/midi-exit-${closeIt ? 'closed' : 'open'}.mts`; // .mts: an ES module (top-level await) outside the package
      writeFileSync(file, script(closeIt));
      const child = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let killed = false;
      const kill = () => { killed = true; child.kill('SIGKILL'); };
      const safety = setTimeout(kill, 90000);
      let armed: NodeJS.Timeout | undefined;
      child.stdout.on('data', (d) => {
        out += d;
        if (!armed && /opened/.test(out)) armed = setTimeout(kill, killAfterOpenedMs);
      });
      child.stderr.on('data', (d) => { out += d; });
      child.on('exit', (code) => {
        clearTimeout(safety);
        if (armed) clearTimeout(armed);
        res({ code, out, killed });
      });
    });
    const closed = await runChild(true, 30000);
    assert.equal(closed.killed, false, `exited by itself within 30 s of closing: ${closed.out}`);
    assert.equal(closed.code, 0, closed.out);
    assert.match(closed.out, /opened/);
    // Control: the same program without close() is kept alive by its open port.
    const open = await runChild(false, 3000);
    assert.match(open.out, /opened/, `the child got as far as opening: ${open.out}`);
    assert.equal(open.killed, true, `a process with an open port does not exit by itself (exit code ${open.code})`);
  });
});

midiContract('ALSA sequencer in the guest (snd-virmidi hw:VirMIDI,0 driven by amidi)', async () => {
  const hal = new LinuxHal();
  const sequencer = await hal.midi();
  const src = virmidiPort(sequencer.listPorts(), 0);
  return {
    sequencer,
    source: { address: src.address, clientName: src.clientName, portName: src.portName },
    send: (messages) => amidiSend(0, messages),
    nowNs: () => monotonicClock().nowNs(),
    quietMs: 200,
    close: () => hal.close(),
  };
}, unavailable);
