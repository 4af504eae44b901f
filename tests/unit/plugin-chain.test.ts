/**
 * Issue 29: LADSPA plugins in the engine's chain, heard at the simulated analog output of the
 * `sim` board (virtual clock, 0 dB: the output × 32768 is the 16-bit sample the DAC was given).
 *
 * 1. Three plugins from three Debian packages — cmt's one-pole low-pass `lpf` (cmt), swh's
 *    parametric `single_para` (swh-plugins), LSP's `compressor_mono` (lsp-plugins-ladspa) — all
 *    mono, so each runs as one instance per channel of the stereo stream. The same input through
 *    the engine and through `applyplugin` (ladspa-sdk, the reference host) per channel, with the
 *    same control values, agree within 2 LSB of 16 bits. Why not bit for bit: applyplugin reads
 *    a 16-bit sample s as s / 32767.5 and writes y × 32767.5 truncated toward zero
 *    (applyplugin.c, readIntoBuffers / writeFromBuffers), the engine s / 32768 and y × 32768
 *    rounded: for a linear stage the two differ by the truncation (< 1 LSB), and the compressor's
 *    level detector sees the input 0.00013 dB apart. Samples: 16-bit in both (the only format the
 *    installed applyplugin reads and writes). A wrong control value (the EQ at +5 dB instead of
 *    +6 dB) makes the comparison fail.
 * 2. A time-tagged OSC /control to the gain port of a plugin with an instant effect (the test
 *    library's sbc_test_gain) changes the output at exactly the tagged frame; the same check one
 *    frame early fails.
 * 3. A slow plugin (sbc_test_slow, busy 4 ms per run on a 2.67 ms period) is bypassed after
 *    MAX_OVERRUNS (3) periods in a row, the control channel's watchers see `fx1` off with the
 *    error, and the stream plays on (the input passes through).
 * 4. Swapping the chain while a 1 kHz tone plays (setting `sim.speaker.chain`): no step beyond the
 *    tone's own above −60 dBFS and no broadband burst above −60 dB (the pop bounds of issue 21,
 *    tests/unit/helpers/clicks.ts), 0 xruns, the new level after it; with the ramps off the same
 *    swap is a click (the negative control).
 * 5. `sbc-audio ctl set sim.speaker.fx1-gain 0.25` from the CLI changes the output.
 * 6. Bad chains: a library that is not there, a label the library lacks, a plugin not marked hard
 *    real-time — each refused at start, naming it (paths: tests/unit/system-config.test.ts; board
 *    files naming plugins: tests/unit/board-file-safety.test.ts).
 * 7. A plugin's "latency" output adds to the stream's external delay.
 * 8. A chain set at run time (the `chain` control) and its values persist in the state file.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { toBuffer } from 'osc-min';
import { loadBoard } from '../../src/board/load.ts';
import { openBoard } from '../../src/board/runtime.ts';
import { VirtualClock } from '../../src/hal/sim/index.ts';
import type { ControlInfo } from '../../src/control/types.ts';
import type { PluginsConfig } from '../../src/dsp/chain-spec.ts';
import { type DispatcherLike, type SetOutcome, oscOptionsFor, startOscServer } from '../../src/osc/server.ts';
import { startStreamService } from '../../src/stream/service.ts';
import { StreamClient } from '../../src/stream/client.ts';
import { STATUS } from '../../src/stream/wire.ts';
import { PERIOD, RATE, playLoop } from '../fixtures/chain-service.ts';
import { buildTestPlugins } from '../support/ladspa-fixtures.ts';
import { BURST_BOUND_DB, STEP_BOUND_DBFS, stepExcess, worstBurst } from './helpers/clicks.ts';

const run = promisify(execFile);
const SYSTEM_LADSPA = '/usr/lib/ladspa';
const BIN = path.resolve(import.meta.dirname, '../../bin/sbc-audio.js');

/** A 16-bit PCM WAV as applyplugin reads it: the 44-byte header with "data" at byte 36. */
function wav16(samples: Int16Array, channels: number, rate: number): Buffer {
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'ascii');
  h.writeUInt32LE(36 + samples.byteLength, 4);
  h.write('WAVEfmt ', 8, 'ascii');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20);
  h.writeUInt16LE(channels, 22);
  h.writeUInt32LE(rate, 24);
  h.writeUInt32LE(rate * channels * 2, 28);
  h.writeUInt16LE(channels * 2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'ascii');
  h.writeUInt32LE(samples.byteLength, 40);
  return Buffer.concat([h, Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength)]);
}

function readWav16(file: string): Int16Array {
  const b = readFileSync(file);
  assert.equal(b.toString('ascii', 36, 40), 'data', `${file}: applyplugin's output has its data at byte 36`);
  const n = b.readUInt32LE(40);
  return new Int16Array(b.buffer.slice(b.byteOffset + 44, b.byteOffset + 44 + n));
}

/** One second of stereo music-like test signal at about −9 dBFS: a few tones and a deterministic noise, different per channel. */
function testLoop(): Int16Array {
  const out = new Int16Array(RATE * 2);
  let seed = 0x1234567;
  for (let i = 0; i < RATE; i++) {
    const t = i / RATE;
    for (let c = 0; c < 2; c++) {
      seed = (seed * 1103515245 + 12345) >>> 0;
      const noise = ((seed >>> 8) / 0x1000000 - 0.5) * 0.05;
      // Whole cycles per second, so the loop joins without a step.
      const x = 0.15 * Math.sin(2 * Math.PI * (c === 0 ? 220 : 330) * t) + 0.12 * Math.sin(2 * Math.PI * 1000 * t) + 0.08 * Math.sin(2 * Math.PI * (c === 0 ? 5000 : 7000) * t)
        + 0.1 * Math.sin(2 * Math.PI * 2 * t) * Math.sin(2 * Math.PI * 440 * t) + noise;
      out[i * 2 + c] = Math.round(x * 32767);
    }
  }
  return out;
}

function channel(x: Int16Array, c: number): Int16Array {
  const out = new Int16Array(x.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = x[i * 2 + c]!;
  return out;
}

/** The largest |a − b| and where, over the whole length. */
function worstDiff(a: Int16Array, b: Int16Array): { max: number; at: number; over2: number } {
  assert.equal(a.length, b.length);
  let max = 0, at = -1, over2 = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > max) { max = d; at = i; }
    if (d > 2) over2++;
  }
  return { max, at, over2 };
}

const LSP = 'lsp-plugins-ladspa-1.2.5.so';
const LSP_COMPRESSOR = 'http://lsp-plug.in/plugins/ladspa/compressor_mono';

describe('LADSPA plugins in the engine chain (issue 29), heard at the sim board\'s analog output', function () {
  this.timeout(120000);
  let testLib: string;
  let tmp: string;

  before(() => {
    testLib = buildTestPlugins();
    tmp = mkdtempSync(path.join(tmpdir(), 'sbc-chain-test-'));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it('cmt lpf → swh single_para → lsp compressor_mono (mono, one instance per channel) equals applyplugin per channel within 2 LSB; a wrong EQ gain does not', async () => {
    const loop = testLoop();
    const eq = { 'Gain (dB)': 6, 'Frequency (Hz)': 1000, 'Bandwidth (octaves)': 1 };
    const plugins: PluginsConfig = {
      speaker: [
        { library: 'cmt.so', label: 'lpf', controls: { 'Cutoff Frequency (Hz)': 4000 } },
        { library: 'single_para_1203.so', label: 'singlePara', controls: eq },
        { library: LSP, label: LSP_COMPRESSOR },
      ],
    };
    const r = await playLoop(loop, { plugins, ladspaPath: [SYSTEM_LADSPA], rampMs: 0 });
    let engineOut: Int16Array;
    let controlsOf: (stage: number) => number[];
    try {
      // Loops 2 and 3 (the first carries the codec's power-up); compared against the same frames of applyplugin's run over three loops.
      await r.until(3 * RATE);
      engineOut = r.output(RATE, 2 * RATE);
      assert.equal(r.xruns(), 0);
      const list = await r.service.controls.list();
      // The control values in force, in port order, as applyplugin takes them on its command line.
      controlsOf = (stage) => list.controls.filter((c) => c.id.startsWith(`sim.speaker.fx${stage}-`) && c.writable).map((c) => (typeof c.value === 'boolean' ? (c.value ? 1 : 0) : c.value as number));
      assert.deepEqual(controlsOf(2), [6, 1000, 1], 'the EQ\'s ports as the control model has them: Gain (dB), Frequency (Hz), Bandwidth (octaves)');
    } finally {
      await r.close();
    }
    const three = new Int16Array(loop.length * 3);
    for (let k = 0; k < 3; k++) three.set(loop, k * loop.length);
    const reference = async (c: number, eqGain: number) => {
      const inFile = path.join(tmp, `in-${c}.wav`);
      const outFile = path.join(tmp, `out-${c}-${eqGain}.wav`);
      writeFileSync(inFile, wav16(channel(three, c), 1, RATE));
      const eqValues = controlsOf(2).map((v, i) => (i === 0 ? eqGain : v));
      await run('applyplugin', [inFile, outFile,
        path.join(SYSTEM_LADSPA, 'cmt.so'), 'lpf', ...controlsOf(1).map(String),
        path.join(SYSTEM_LADSPA, 'single_para_1203.so'), 'singlePara', ...eqValues.map(String),
        path.join(SYSTEM_LADSPA, LSP), LSP_COMPRESSOR, ...controlsOf(3).map(String)]);
      return readWav16(outFile).subarray(RATE, 3 * RATE);
    };
    for (const c of [0, 1]) {
      const ours = channel(engineOut!, c);
      const d = worstDiff(ours, await reference(c, 6));
      console.log(`      channel ${c}: largest difference from applyplugin ${d.max} LSB at frame ${RATE + d.at} (${RATE * 2} frames compared)`);
      assert.ok(d.max <= 2, `channel ${c}: ${d.over2} samples differ from applyplugin by more than 2 LSB, the largest ${d.max} at frame ${RATE + d.at}`);
      // The control: applyplugin with the EQ at +5 dB is not what the engine played at +6 dB.
      const wrong = worstDiff(ours, await reference(c, 5));
      assert.ok(wrong.max > 2, `a wrong EQ gain must show: largest difference ${wrong.max}`);
    }
  });

  it('a time-tagged OSC /control to sbc_test_gain\'s Gain lands on exactly the tagged frame; the same check one frame early fails', async () => {
    const loop = new Int16Array(RATE * 2).fill(16384);
    const r = await playLoop(loop, { plugins: { speaker: [{ library: 'sbc_test_plugins.so', label: 'sbc_test_gain' }] }, ladspaPath: [testLib], rampMs: 0 });
    const epoch = 1_795_996_800_000_000_000n;
    const outcomes: SetOutcome[] = [];
    const dispatcher: DispatcherLike = {
      async set(id, value, opts = {}): Promise<SetOutcome> {
        let o: SetOutcome;
        try {
          o = { status: 'applied', control: await r.service.controls.set(id, value, opts.at ? { at: opts.at } : {}) };
        } catch (e) {
          o = { status: 'refused', error: (e as Error).message };
        }
        outcomes.push(o);
        return o;
      },
    };
    const osc = await startOscServer({
      ...oscOptionsFor({
        runtime: r.rt, service: r.service, dispatcher, osc: { bind: '127.0.0.1:0' },
        // No programs or configure keys in this test: /control only.
        programs: { current: () => undefined, load: async () => { throw new Error('no programs here'); } },
        configure: { list: () => [], set: async () => { throw new Error('no configure keys here'); } },
      }),
      realtime: { nowNs: () => epoch + BigInt(Math.round(r.clock.nowNs())) },
    });
    const sock = dgram.createSocket('udp4');
    try {
      await r.until(RATE);
      const T = Math.ceil(r.clock.nowNs()) + 100e6;
      const F = Math.round(((T - r.startNs) * RATE) / 1e9);
      const realtime = epoch + BigInt(T);
      const s = realtime / 1_000_000_000n;
      const rem = realtime % 1_000_000_000n;
      const timetag: [number, number] = [Number(s + 2_208_988_800n), Number((rem * 4_294_967_296n + 500_000_000n) / 1_000_000_000n)];
      const packet = toBuffer({ timetag, elements: [{ address: '/sbc-audio/sim/speaker/control', args: [{ type: 'string', value: 'fx1-gain' }, { type: 'float', value: 0.5 }] }] });
      await new Promise<void>((res, rej) => sock.send(Buffer.from(packet.buffer, packet.byteOffset, packet.byteLength), osc.port, '127.0.0.1', (e) => (e ? rej(e) : res())));
      for (let i = 0; i < 1000 && (await r.service.controls.get('sim.speaker.fx1-gain')).value !== 0.5; i++) await new Promise((res) => setTimeout(res, 5));
      await r.until(F + 10);
      const out = r.output(F - 4, 8);
      const changesAt = (frame: number) => {
        for (let f = F - 4; f < F + 4; f++) {
          const want = f < frame ? 16384 : 8192;
          if (out[(f - (F - 4)) * 2] !== want || out[(f - (F - 4)) * 2 + 1] !== want) return false;
        }
        return true;
      };
      assert.ok(changesAt(F), `the gain changes at frame ${F}: ${Array.from(out).join(' ')}`);
      assert.equal(changesAt(F - 1), false, 'the negative control: one frame early is not what was heard');
      assert.equal(outcomes.length, 1);
      const o = outcomes[0]!;
      assert.equal(o.status, 'applied', JSON.stringify(o));
      assert.equal(o.status === 'applied' ? o.control.applied?.frame : undefined, F, 'the engine says it applied it at the tagged frame');
      console.log(`      tagged for frame ${F} (${F % PERIOD} into its period): ${out[6]} at F − 1, ${out[8]} at F`);
    } finally {
      sock.close();
      await osc.close();
      await r.close();
    }
  });

  it('a plugin that overruns the period is bypassed after 3 counted overruns in a row: watchers see the error, the stream plays on; one under the period is not', async () => {
    const loop = new Int16Array(RATE * 2).fill(12000);
    // Busy 10 ms of CPU per run on a 2.67 ms period: over it however busy the machine is.
    const r = await playLoop(loop, {
      plugins: { speaker: [
        { library: 'sbc_test_plugins.so', label: 'sbc_test_slow', controls: { 'Busy (us)': 300 } },
        { library: 'sbc_test_plugins.so', label: 'sbc_test_slow', controls: { 'Busy (us)': 10000 } },
      ] }, ladspaPath: [testLib], rampMs: 0,
    });
    const seen: ControlInfo[] = [];
    const off = r.service.controls.onChange((c) => { if (/^sim\.speaker\.fx\d$/.test(c.id)) seen.push(c); });
    try {
      await r.until(RATE / 2);
      for (let i = 0; i < 200 && seen.length === 0; i++) await new Promise((res) => setTimeout(res, 5));
      assert.equal(seen.length, 1, `one change, of sim.speaker.fx2: ${seen.map((c) => c.id).join(', ')}`);
      assert.equal(seen[0]!.id, 'sim.speaker.fx2');
      // The value stays the user's choice (on: what the state file keeps); the error says what the engine did.
      assert.equal(seen[0]!.value, true);
      assert.match(seen[0]!.error ?? '', /bypassed by the engine: sbc_test_slow's run took longer than the period \(2667 µs\) in \d+ period\(s\), the last 3 of them in a row/);
      assert.ok(r.log.some((l) => /speaker: plugin 2 \(sbc_test_slow\) bypassed by the engine/.test(l)), r.log.join('\n'));
      const got = await r.service.controls.get('sim.speaker.fx2');
      assert.match(got.error ?? '', /bypassed by the engine/);
      // The negative control: the stage under the period (0.3 ms) runs on, no error.
      const first = await r.service.controls.get('sim.speaker.fx1');
      assert.equal(first.error, undefined);
      assert.equal(first.value, true);
      assert.ok((await r.service.controls.get('sim.speaker.fx1-cpu')).value as number > 250, 'fx1 still runs (its run calls take its busy time)');
      // Playing on: the input passes through unchanged once the plugin is out.
      const from = r.position();
      await r.until(from + RATE / 10);
      const out = r.output(from, RATE / 10);
      assert.ok(out.every((x) => x === 12000), 'the input passes through after the bypass');
    } finally {
      off();
      await r.close();
    }
  });

  for (const rampMs of [undefined, 0] as const) {
    const what = rampMs === 0
      ? 'with the ramps off (the negative control): the swap is a click beyond the bound'
      : `no step beyond the tone's own above ${STEP_BOUND_DBFS} dBFS, no burst above ${BURST_BOUND_DB} dB, 0 xruns`;
    it(`swapping the chain while a 1 kHz tone plays (amp_mono at 1.0 → sbc_test_gain at 0.5) (the chain control set): ${what}`, async () => {
      // A cosine at half of full scale, 48 whole cycles per 48 frames… per second: the loop joins smoothly.
      const loop = new Int16Array(RATE * 2);
      for (let i = 0; i < RATE; i++) loop[i * 2] = loop[i * 2 + 1] = Math.round(16384 * Math.cos((2 * Math.PI * 1000 * i) / RATE));
      const r = await playLoop(loop, {
        plugins: { speaker: [{ library: 'cmt.so', label: 'amp_mono', controls: { Gain: 1 } }] }, ladspaPath: [testLib, SYSTEM_LADSPA],
        ...(rampMs !== undefined ? { rampMs } : {}),
      });
      try {
        await r.until(RATE / 2);
        const from = r.position() - 2400;
        const next = JSON.stringify([{ library: 'sbc_test_plugins.so', label: 'sbc_test_gain', controls: { Gain: 0.5 } }]);
        const set = await r.service.controls.set('sim.speaker.chain', next);
        assert.equal(set.value, next);
        assert.equal((await r.service.controls.get('sim.speaker.fx1-gain')).value, 0.5, 'the new stage\'s controls replace the old ones');
        await assert.rejects(r.service.controls.get('sim.speaker.fx1-gain-2'), /no control/);
        await r.until(from + RATE / 2);
        const x = r.analog(from, RATE / 2);
        const step = stepExcess(x, 2, RATE, 1000);
        const burst = worstBurst(x, 2, RATE);
        console.log(`      ${rampMs === 0 ? 'ramps off' : 'ramps on'}: worst step beyond the tone's ${step.worstDbfs.toFixed(1)} dBFS at frame ${from + step.atFrame}; burst ${burst.worstDb.toFixed(1)} dB; xruns ${r.xruns()}`);
        // The tone is there after the swap, at half the level: −12.04 dBFS (a test that passes on silence proves nothing).
        let peak = 0;
        for (let i = x.length - 9600; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]!));
        assert.ok(Math.abs(peak - 0.25) < 0.001, `the tone after the swap peaks at ${peak}, expected 0.25`);
        assert.equal(r.xruns(), 0);
        if (rampMs === 0) {
          // A cut from 0.5 to 0.25 of a cosine steps by 0.25·cos(phase): near a zero crossing the
          // step detector can miss it, the broadband burst detector does not (docs/CONTROL.md).
          assert.ok(step.worstDbfs > STEP_BOUND_DBFS || burst.worstDb > BURST_BOUND_DB, `without the fade the swap must show: step ${step.worstDbfs} dBFS, burst ${burst.worstDb} dB`);
          assert.ok(burst.worstDb > BURST_BOUND_DB, `without the fade the swap is a broadband burst: ${burst.worstDb} dB`);
          return;
        }
        assert.ok(step.worstDbfs <= STEP_BOUND_DBFS, `step ${step.worstDbfs} dBFS at frame ${from + step.atFrame}`);
        assert.ok(burst.worstDb <= BURST_BOUND_DB, `burst ${burst.worstDb} dB at frame ${from + burst.atFrame}`);
      } finally {
        await r.close();
      }
    });
  }

  it('`sbc-audio ctl set sim.speaker.fx1-gain 0.25` (the CLI, over the control channel) changes the output; `ctl get` shows the port\'s range and hints', async () => {
    const loop = new Int16Array(RATE * 2).fill(16384);
    const r = await playLoop(loop, { plugins: { speaker: [{ library: 'sbc_test_plugins.so', label: 'sbc_test_gain' }] }, ladspaPath: [testLib], rampMs: 0 });
    try {
      await r.until(RATE / 2);
      const before = r.output(r.position() - 100, 10);
      assert.ok(before.every((x) => x === 16384), `unity gain before: ${Array.from(before).join(' ')}`);
      const set = await run(process.execPath, [BIN, 'ctl', 'set', 'sim.speaker.fx1-gain', '0.25', '--runtime-dir', r.runtimeDir]);
      assert.match(set.stdout, /sim\.speaker\.fx1-gain/);
      const get = await run(process.execPath, [BIN, 'ctl', 'get', 'sim.speaker.fx1-gain', '--runtime-dir', r.runtimeDir]);
      assert.match(get.stdout, /range:\s+0 \.\. 4/, get.stdout);
      assert.match(get.stdout, /kind:\s+number/, get.stdout);
      const from = r.position() + r.fifoFrames + 2 * PERIOD;
      await r.until(from + 10);
      const after = r.output(from, 10);
      assert.ok(after.every((x) => x === 4096), `gain 0.25 after: ${Array.from(after).join(' ')}`);
      // A value outside the port's bounds is refused by the CLI with the range, nothing changed.
      await assert.rejects(run(process.execPath, [BIN, 'ctl', 'set', 'sim.speaker.fx1-gain', '9', '--runtime-dir', r.runtimeDir]), /outside its range 0 \.\. 4/);
      assert.equal((await r.service.controls.get('sim.speaker.fx1-gain')).value, 0.25);
    } finally {
      await r.close();
    }
  });

  it('bad chains are refused at start, naming the library, the label or the missing real-time capability', async () => {
    const clock = new VirtualClock(1e9, true);
    const rt = await openBoard(loadBoard('sim'), { clock });
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-chain-bad-'));
    try {
      const start = (plugins: PluginsConfig) => startStreamService(rt, { runtimeDir, plugins, ladspaPath: [testLib, SYSTEM_LADSPA], pluginsSource: 'config.json' });
      await assert.rejects(start({ speaker: [{ library: 'no_such_lib.so', label: 'x' }] }), /config\.json: plugins\.speaker\[0\]\.library: .*no_such_lib\.so/);
      await assert.rejects(start({ speaker: [{ library: 'cmt.so', label: 'no_such_label' }] }), /config\.json: plugins\.speaker\[0\]\.label: .*no_such_label/);
      await assert.rejects(start({ speaker: [{ library: 'sbc_test_plugins.so', label: 'sbc_test_not_rt' }] }), /not marked hard real-time capable/);
      const svc = await start({ speaker: [{ library: 'sbc_test_plugins.so', label: 'sbc_test_not_rt', allowNonRealtime: true }] });
      await svc.close();
    } finally {
      await rt.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });

  it('a chain set at run time and its port values persist in the state file: a restarted service has them', async () => {
    const clock = new VirtualClock(1e9, true);
    const rt = await openBoard(loadBoard('sim'), { clock });
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-chain-state-'));
    const stateFile = path.join(runtimeDir, 'state.json');
    try {
      // First a state file written by hand with the port's value before the chain (restore must put the chain in place first).
      const chain0 = JSON.stringify([{ library: 'sbc_test_plugins.so', label: 'sbc_test_gain' }]);
      writeFileSync(stateFile, JSON.stringify({ format: 'sbc-audio-state', version: 1, boards: { sim: { controls: { 'sim.speaker.fx1-gain': 0.25, 'sim.speaker.chain': chain0 } } } }));
      const zero = await startStreamService(rt, { runtimeDir, stateFile, ladspaPath: [testLib] });
      try {
        assert.equal((await zero.controls.get('sim.speaker.fx1-gain')).value, 0.25, 'the port value saved before the chain was restored after it');
        await zero.controls.set('sim.speaker.chain', '[]');
      } finally {
        await zero.close();
      }
      const first = await startStreamService(rt, { runtimeDir, stateFile, ladspaPath: [testLib] });
      assert.equal((await first.controls.get('sim.speaker.chain')).value, '[]', 'no chain configured: an empty one');
      await assert.rejects(first.controls.get('sim.speaker.fx1-gain'), /no control/);
      const chain = JSON.stringify([{ library: 'sbc_test_plugins.so', label: 'sbc_test_gain' }]);
      await first.controls.set('sim.speaker.chain', chain);
      await first.controls.set('sim.speaker.fx1-gain', 0.75);
      // A bad chain changes nothing (checked before anything is swapped).
      await assert.rejects(first.controls.set('sim.speaker.chain', JSON.stringify([{ library: 'sbc_test_plugins.so', label: 'nope' }])), /nope/);
      assert.equal((await first.controls.get('sim.speaker.chain')).value, chain);
      await first.close();
      const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as unknown;
      assert.match(JSON.stringify(saved), /sim\.speaker\.fx1-gain/);
      const second = await startStreamService(rt, { runtimeDir, stateFile, ladspaPath: [testLib] });
      try {
        assert.equal((await second.controls.get('sim.speaker.chain')).value, chain);
        assert.equal((await second.controls.get('sim.speaker.fx1-gain')).value, 0.75);
      } finally {
        await second.close();
      }
    } finally {
      await rt.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });

  it('a plugin\'s "latency" output is added to the stream\'s external delay (sbc_test_latency at 480 frames: +10 ms)', async () => {
    const clock = new VirtualClock(1e9, true);
    const rt = await openBoard(loadBoard('sim'), { clock });
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-chain-lat-'));
    const delay = async (plugins?: PluginsConfig) => {
      const svc = await startStreamService(rt, { runtimeDir, ...(plugins ? { plugins, ladspaPath: [testLib] } : {}) });
      try {
        const c = await StreamClient.connect(svc.endpoints.find((e) => e.name === 'sim.speaker')!.path);
        const d = await c.getExternalDelay(RATE);
        await c.close();
        assert.equal(d.result, STATUS.OK);
        return d.externalDelayNs;
      } finally {
        await svc.close();
      }
    };
    try {
      const without = await delay();
      const withChain = await delay({ speaker: [{ library: 'sbc_test_plugins.so', label: 'sbc_test_latency', controls: { Delay: 480 } }] });
      assert.equal(withChain - without, 10e6, `external delay ${without} ns without the chain, ${withChain} ns with it`);
    } finally {
      await rt.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});

