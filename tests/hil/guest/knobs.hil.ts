/**
 * Guest only (issue 23; docs/CONTROL.md, "Knobs"): the knobs on real kernel interfaces. The stream
 * service runs in this process on a board whose codec, bus and PCMs are simulated (named so: the
 * hil-knobs board below is a sim board) but whose encoder lines are gpio-sim lines through our
 * GPIO uAPI v2 backend (the kernel's debounce, edge queue and sequence numbers) and whose MIDI
 * input is a real ALSA sequencer client (libasound through koffi, snd-seq in the guest kernel).
 *
 * - The outside world: gpio-sim's sysfs `pull` files turn the encoder (a write is a contact
 *   closing or opening); `amidi` (alsa-utils) writes controller messages to snd-virmidi's raw MIDI
 *   device, which the kernel sends on as sequencer events from the "Virtual Raw MIDI" client's
 *   port; `aconnect` (alsa-utils) connects that port to ours, as a user would.
 * - Values are read with the real CLI, `sbc-audio ctl get ID --json`, against the service's
 *   control channel (a few times: each start of the CLI takes seconds under TCG); waits in between
 *   poll the channel in-process.
 * - Expected values are the docs' formulas with literal numbers: the sim codec's volume steps by
 *   0.5 dB (its register table, codecs/sim-codec); the 'db' curve over -60..0 dB is -60 + 60·v/127,
 *   rounded to the step, ties to the lower gain.
 *
 * Nothing here is timed against wall time but hang guards: gaps between contact changes are at
 * least the debounce (sleeps never end early), and every wait polls until the value arrives.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadBoard } from '../../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../../src/board/runtime.ts';
import { ControlClient } from '../../../src/control/client.ts';
import type { Hal } from '../../../src/hal/index.ts';
import { monotonicClock } from '../../../src/hal/linux/clock.ts';
import { createLinuxHal } from '../../../src/hal/linux/index.ts';
import { createSimHal } from '../../../src/hal/sim/index.ts';
import { type StreamService, startStreamService } from '../../../src/stream/service.ts';
import { hilEnv } from '../env.ts';
import { GpioSimPeer, finishChild } from '../peers.ts';

const env = hilEnv();
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');
const exec = promisify(execFile);
/** A hang guard only. */
const HANG_GUARD_MS = 120_000;
/** The encoder's lines on the gpio-sim chip (lines 0..3 are the GPIO tests'). */
const A = 4;
const B = 5;
const PUSH = 6;
/** The kernel's debounce asked for (µs); gaps between contact changes are 3.2 to 5.6 times that. */
const DEBOUNCE_US = 5000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A deterministic PRNG (xorshift32): the random spacing is the same at every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => { s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0; return s / 2 ** 32; };
}

describe('knobs on real kernel interfaces: an encoder on gpio-sim, MIDI from amidi through snd-virmidi (guest)', function () {
  this.timeout(300_000);
  if (env.tier !== 'guest' || !env.gpio?.simDir) {
    it('needs the QEMU guest (tests/hil/run-vm.sh)', function () { this.skip(); }); // reason: gpio-sim's pull files and snd-virmidi exist only in the guest
    return;
  }
  const gpio = env.gpio;
  const sim = new GpioSimPeer(gpio.simDir!);
  let tmp: string;
  let dir: string;
  let rt: BoardRuntime;
  let service: StreamService;
  let client: ControlClient;
  const level = { a: 0, b: 0 };

  const ctlGet = async (id: string): Promise<unknown> => {
    const { stdout } = await exec(process.execPath, [BIN, 'ctl', 'get', id, '--json', '--runtime-dir', dir], { timeout: HANG_GUARD_MS });
    return (JSON.parse(stdout) as { value: unknown }).value;
  };
  const settle = async (id: string, want: unknown): Promise<void> => {
    const end = Date.now() + HANG_GUARD_MS;
    let got: unknown;
    while (Date.now() < end) {
      got = (await client.get(id)).value;
      if (got === want) return;
      await sleep(50);
    }
    assert.fail(`${id}: ${JSON.stringify(got)}, waited for ${JSON.stringify(want)}`);
  };
  const set = (line: number, v: 0 | 1) => sim.driveSync(line, v);
  /** One transition of the Gray code, then a gap above the debounce. */
  const step = async (line: 'a' | 'b', gapMs: number, bounce = false) => {
    const offset = line === 'a' ? A : B;
    const v = (level[line] ^ 1) as 0 | 1;
    // Contact bounce: the new level, the old one, the new one again, microseconds apart (three
    // synchronous writes): far shorter than the debounce.
    if (bounce) { set(offset, v); set(offset, (v ^ 1) as 0 | 1); }
    set(offset, v);
    level[line] = v;
    await sleep(gapMs);
  };
  /** One detent: (A,B) 00 → 01 → 11 → 10 → 00 is +1 (docs/CONTROL.md, "Knobs"), the reverse −1. */
  const detent = async (dir1: 1 | -1, gap: () => number, bounce = false) => {
    const order: ('a' | 'b')[] = dir1 > 0 ? ['b', 'a', 'b', 'a'] : ['a', 'b', 'a', 'b'];
    for (const l of order) await step(l, gap(), bounce);
  };

  before(async () => {
    tmp = mkdtempSync('/tmp/sbc-guest-knobs-');
    dir = path.join(tmp, 'run');
    for (const l of [A, B, PUSH]) set(l, 0);
    const sim0 = JSON.parse(readFileSync(path.join(ROOT, 'board/sim.json'), 'utf8')) as Record<string, unknown>;
    const board = {
      ...sim0,
      name: 'hil-knobs',
      description: 'Guest test board: the sim board\'s simulated codec, bus and PCMs, with an encoder on gpio-sim lines and a MIDI input on the ALSA sequencer.',
      gpio: {
        'encoder-a': { chip: gpio.label ?? gpio.chip, line: A, debounceUs: DEBOUNCE_US },
        'encoder-b': { chip: gpio.label ?? gpio.chip, line: B, debounceUs: DEBOUNCE_US },
        'encoder-push': { chip: gpio.label ?? gpio.chip, line: PUSH, debounceUs: DEBOUNCE_US },
      },
      streams: [{ id: 'speaker', direction: 'output', purpose: 'speaker', pcm: 'sim:0,0' }],
      controlDefaults: { 'speaker.gain': -60, 'speaker.mute': false },
      encoder: { control: 'speaker.gain', step: 0.5, push: { toggle: 'speaker.mute' } },
      midi: { map: [{ channel: 1, cc: 7, control: 'speaker.gain', min: -60, max: 0 }, { channel: 1, cc: 0, resolution: 14, control: 'speaker.gain', min: -60, max: 0 }] },
    };
    const file = path.join(tmp, 'hil-knobs.json');
    writeFileSync(file, JSON.stringify(board, null, 2));
    // The simulated HAL of a sim board, but its GPIO chips and its sequencer are the kernel's.
    const simHal = createSimHal({ clock: monotonicClock() });
    const linux = createLinuxHal();
    const hal = Object.assign(simHal, {
      gpioChip: (name: string) => linux.gpioChip(name),
      midi: () => linux.midi(),
      close: async () => { await linux.close(); },
    }) as Hal;
    rt = await openBoard(loadBoard(file), { hal });
    service = await startStreamService(rt, { runtimeDir: dir, ringBuffer: false });
    client = await ControlClient.connect(service.controlPath);
  });

  after(async () => {
    client?.close();
    await service?.close();
    await rt?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('100 detents one way, 37 the other, at random spacing above the debounce: the gain moved exactly 63 steps (ctl get)', async () => {
    assert.equal(await ctlGet('hil-knobs.speaker.gain'), -60);
    const rnd = prng(0x23);
    // 16..28 ms, at random: above the debounce as the kernel times it (5 ms rounds up to two 4 ms
    // jiffies at Debian's HZ = 250: at most 8 ms), and a contact's own changes (two gaps apart)
    // well beyond a debounce work item that TCG runs late.
    const gap = () => Math.ceil((DEBOUNCE_US / 1000) * (3.2 + 2.4 * rnd()));
    for (let i = 0; i < 100; i++) await detent(1, gap);
    for (let i = 0; i < 37; i++) await detent(-1, gap);
    // 63 steps of 0.5 dB from -60.
    await settle('hil-knobs.speaker.gain', -28.5);
    assert.equal(await ctlGet('hil-knobs.speaker.gain'), -28.5);
    const e = service.knobs.info().encoder!;
    assert.equal(e.detents, 63, 'net detents decoded');
    assert.equal(e.invalid, 0, 'no edge lost');
  });

  it('contact bounce shorter than the debounce adds nothing: 10 bounced detents are 10 steps; a glitch on a resting line is no step', async () => {
    const before = service.knobs.info().encoder!;
    for (let i = 0; i < 10; i++) await detent(1, () => 20, true);
    // A glitch: line A up and down again at once, while the knob rests.
    set(A, 1); set(A, 0);
    await sleep(40);
    await settle('hil-knobs.speaker.gain', -23.5);
    const after = service.knobs.info().encoder!;
    assert.equal(after.detents - before.detents, 10);
    assert.equal(after.invalid, before.invalid, 'no transition seen twice');
    assert.equal(await ctlGet('hil-knobs.speaker.gain'), -23.5);
  });

  it('the push switch toggles mute, each press once', async () => {
    const press = async () => { set(PUSH, 1); await sleep(30); set(PUSH, 0); await sleep(30); };
    await press();
    await settle('hil-knobs.speaker.mute', true);
    await press();
    await settle('hil-knobs.speaker.mute', false);
    await press();
    await settle('hil-knobs.speaker.mute', true);
    assert.equal(await ctlGet('hil-knobs.speaker.mute'), true);
    await press();
    await settle('hil-knobs.speaker.mute', false);
  });

  describe('MIDI: amidi on snd-virmidi, connected with aconnect', () => {
    let virmidi: { card: number; client: number };
    const amidi = (hex: string) => exec('amidi', ['-p', `hw:${virmidi.card},0`, '-S', hex], { timeout: HANG_GUARD_MS });

    before(async () => {
      // snd-virmidi's card and its sequencer client ("Virtual Raw MIDI <card>-0"), from /proc/asound.
      const cards = readFileSync('/proc/asound/cards', 'utf8');
      const m = /^\s*(\d+)\s+\[VirMIDI\s*\]/m.exec(cards);
      assert.ok(m, `snd-virmidi's card in /proc/asound/cards:\n${cards}`);
      const card = Number(m[1]);
      const clients = readFileSync('/proc/asound/seq/clients', 'utf8');
      const c = new RegExp(`^Client\\s+(\\d+) : "Virtual Raw MIDI ${card}-0"`, 'm').exec(clients);
      assert.ok(c, `the virmidi sequencer client in /proc/asound/seq/clients:\n${clients}`);
      virmidi = { card, client: Number(c[1]) };
      const ours = service.knobs.info().midi!;
      assert.equal(ours.client, 'sbc-audio hil-knobs');
      await exec('aconnect', [`${virmidi.client}:0`, ours.address], { timeout: HANG_GUARD_MS });
      const listing = (await exec('aconnect', ['-l'], { timeout: HANG_GUARD_MS })).stdout;
      assert.match(listing, /client \d+: 'sbc-audio hil-knobs'/, listing);
      assert.deepEqual(service.knobs.info().midi!.connections, [`${virmidi.client}:0`]);
    });

    it('CC 7 on channel 1 sets the gain as the db curve says (ctl get): 127 → 0 dB, 64 → -30 dB, 0 → -60 dB', async () => {
      await amidi('B0 07 7F');
      await settle('hil-knobs.speaker.gain', 0);
      // -60 + 60·64/127 = -29.76 dB: the 0.5 dB step nearest is -30.
      await amidi('B0 07 40');
      await settle('hil-knobs.speaker.gain', -30);
      assert.equal(await ctlGet('hil-knobs.speaker.gain'), -30);
      await amidi('B0 07 00');
      await settle('hil-knobs.speaker.gain', -60);
      // Negative control: the same CC on channel 2 is not mapped: nothing moves.
      await amidi('B1 07 7F');
      await sleep(300);
      assert.equal((await client.get('hil-knobs.speaker.gain')).value, -60);
    });

    it('a 14-bit pair (CC 0 MSB, CC 32 LSB): the MSB sets the LSB to 0, the LSB completes the value', async () => {
      // MSB 0x50 alone: 80·128 = 10240 of 16383 → -60 + 60·10240/16383 = -22.496 → -22.5 dB.
      await amidi('B0 00 50');
      await settle('hil-knobs.speaker.gain', -22.5);
      // LSB 0x7F: 10367 → -22.033 → -22 dB (the step nearest).
      await amidi('B0 20 7F');
      await settle('hil-knobs.speaker.gain', -22);
      assert.equal(await ctlGet('hil-knobs.speaker.gain'), -22);
    });

    it('learn mode (sbc-audio midi learn) binds the next CC it sees, on any channel; that CC then drives the control', async () => {
      const learn: ChildProcess = spawn(process.execPath, [BIN, 'midi', 'learn', 'speaker.mute', '--curve', 'switch', '--timeout', '100', '--json', '--runtime-dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
      const learned = finishChild(learn, HANG_GUARD_MS);
      // Learn is armed once the service says so; until then a CC would be a plain unmapped one.
      const end = Date.now() + HANG_GUARD_MS;
      while (!service.knobs.learning() && Date.now() < end) await sleep(50);
      await amidi('B2 15 00'); // channel 3, CC 21
      const r = await learned;
      assert.equal(r.code, 0, r.stderr);
      const m = JSON.parse(r.stdout) as { channel: number; cc: number; controlId: string; curve: string };
      assert.deepEqual([m.channel, m.cc, m.controlId, m.curve], [3, 21, 'hil-knobs.speaker.mute', 'switch']);
      await amidi('B2 15 7F');
      await settle('hil-knobs.speaker.mute', true);
      await amidi('B2 15 00');
      await settle('hil-knobs.speaker.mute', false);
      const list = JSON.parse((await exec(process.execPath, [BIN, 'midi', 'list', '--json', '--runtime-dir', dir], { timeout: HANG_GUARD_MS })).stdout) as { midi: { mappings: { channel: number; cc: number; from: string }[] } };
      assert.ok(list.midi.mappings.some((x) => x.channel === 3 && x.cc === 21 && x.from === 'learned'));
    });
  });
});
