/**
 * The analog truth: tests listen at the simulated chip's analog output, never at the PCM.
 *
 * 1. Through the stream service (real time, CLOCK_MONOTONIC): a client plays a 1 kHz tone at
 *    −6 dBFS, another records the output's monitor endpoint; the monitor carries the tone at the
 *    stream gain, and nothing before START or after STOP. Boards whose chip bring-up is not yet
 *    complete are listed as expected-silent, with the reason their chip model gives.
 * 2. Negative controls on broken copies of the sim-codec description, on a virtual clock: no
 *    step leaving power-down, a wrong word length, the amplifier line never driven.
 * 3. The same for the PCM5122's bring-up (codecs/pcm5122/FACTS.md#bring-up-as-clock-slave): no PLL
 *    reference, no word length, standby left before the PCM runs; and the order on the virtual
 *    clock: standby is left only once the bit clock runs.
 * 4. The WM8960 HAT (codecs/wm8960/FACTS.md#bring-up-on-the-waveshare-hat): the speaker through the
 *    service, the microphone through the capture stream, and truncated copies of the bring-up
 *    (no routing, the DAC left soft-muted, no VMID, the PGA left muted) on a virtual clock.
 * 5. The TLV320AIC3104 as clock master on the ReSpeaker (codecs/tlv320aic3104/FACTS.md#bring-up-on-the-respeaker-2-mic-v2),
 *    the SGTL5000 (codecs/sgtl5000/FACTS.md#bring-up) and the CS4271 (codecs/cs4271/FACTS.md#bring-up)
 *    on a virtual clock, and truncated copies: the AIC3104 without reg 8 = 0xC0 or without its
 *    output power, the SGTL5000 without its DAC power, the CS4271 left in power down.
 *
 * Expected values are literals: −6 dBFS = 0.5012 of full scale (10^(−6/20)), −26 dBFS = 0.0501.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { listBoardNames, loadBoard } from '../../src/board/load.ts';
import { BoardPower } from '../../src/board/power.ts';
import { serveBoard } from '../../src/cli/wiring.ts';
import type { CodecDescription, SequenceStep } from '../../src/codec/description.ts';
import { DescribedCodec } from '../../src/codec/driver.ts';
import type { StreamFormat } from '../../src/codec/types.ts';
import { AnalogSimulation } from '../../src/hal/sim/analog.ts';
import { SimHal, VirtualClock } from '../../src/hal/sim/index.ts';
import { StreamClient } from '../../src/stream/client.ts';
import { playSamples, recordSamples, toneSamples } from '../../src/stream/player.ts';
import { description as simCodec } from '../../codecs/sim-codec/description.ts';
import { SimCodecDriver } from '../../codecs/sim-codec/driver.ts';
import { SimCodecModel } from '../../codecs/sim-codec/model.ts';
import { description as pcm5122 } from '../../codecs/pcm5122/description.ts';
import { description as wm8960 } from '../../codecs/wm8960/description.ts';
import { captureThroughWm8960, playThroughWm8960 } from '../fixtures/codecs/wm8960-rig.ts';
import { playThroughPart } from '../fixtures/codecs/stereo-rig.ts';
import { dB, loudSpan, peak } from './helpers/levels.ts';
import { description as aic3104 } from '../../codecs/tlv320aic3104/description.ts';
import { description as sgtl5000 } from '../../codecs/sgtl5000/description.ts';
import { description as cs4271 } from '../../codecs/cs4271/description.ts';
import { Pcm5122Driver } from '../../codecs/pcm5122/driver.ts';
import { Pcm5122Model } from '../../codecs/pcm5122/model.ts';

/** The sim-codec driver's hooks over another (broken) copy of its description. */
class SimCodecOver extends DescribedCodec {
  protected override async applyFormat(fmt: StreamFormat): Promise<void> {
    await (SimCodecDriver.prototype as unknown as { applyFormat(this: DescribedCodec, f: StreamFormat): Promise<void> }).applyFormat.call(this, fmt);
  }
}

const MINUS_6 = 0.501187; // 10^(-6/20)
const MINUS_26 = 0.0501187; // 10^(-26/20)
/**
 * Frequency from rising zero crossings (linearly interpolated) over [from, to) frames of channel
 * 0: the median period, so that a dropout (an underrun of a real-time engine on a busy machine,
 * which the monitor faithfully carries) does not bend the figure.
 */
function frequency(s: Int16Array, ch: number, rate: number, from: number, to: number): number {
  const crossings: number[] = [];
  for (let f = Math.max(1, from); f < Math.min(to, s.length / ch); f++) {
    const a = s[(f - 1) * ch]!, b = s[f * ch]!;
    if (a < 0 && b >= 0) crossings.push(f - 1 + -a / (b - a));
  }
  assert.ok(crossings.length > 10, `too few zero crossings (${crossings.length}) to measure a frequency`);
  const periods = crossings.slice(1).map((c, i) => c - crossings[i]!).sort((x, y) => x - y);
  return rate / periods[Math.floor(periods.length / 2)]!;
}

const SIM_BOARDS = listBoardNames().filter((n) => loadBoard(n).hal === 'sim');
/** Boards whose chip plays once the service runs its sequences (complete bring-up in the description). */
const AUDIBLE = [
  'adafruit-max98357-sim', 'pimoroni-phat-dac-sim', 'sim', 'sim-many-formats',
  // PCM5122: the full bring-up of codecs/pcm5122/FACTS.md, as clock slave (PLL from BCK) and as clock master (DAC+ Pro)
  'hifiberry-dacplus-sim', 'iqaudio-dacplus-sim', 'hifiberry-dacplus-pro-sim',
  // WM8960: the full bring-up of codecs/wm8960/FACTS.md (MCLK 12.288 MHz), the headphone path
  'waveshare-wm8960-hat-sim',
  // TLV320AIC3104: the ReSpeaker 2-Mic v2 bring-up of codecs/tlv320aic3104/FACTS.md, the codec the clock master (24.576 MHz)
  'respeaker-2mic-v2-sim',
  // SGTL5000 and CS4271 fixtures: the bring-ups of codecs/sgtl5000/FACTS.md and codecs/cs4271/FACTS.md (MCLK 12.288 MHz)
  'sim-sgtl5000', 'sim-cs4271',
];
/** Boards whose description does not yet hold a complete bring-up: the chip model stays silent, and says why. None now. */
const EXPECTED_SILENT: Record<string, RegExp> = {};

describe('analog truth: the monitor hears what the simulated chip outputs (through the stream service)', function () {
  this.timeout(60000);

  it('every simulated board is listed as audible or expected-silent', () => {
    assert.deepEqual([...SIM_BOARDS].sort(), [...AUDIBLE, ...Object.keys(EXPECTED_SILENT)].sort());
  });

  for (const name of SIM_BOARDS) {
    const audible = AUDIBLE.includes(name);
    it(`${name}: ${audible ? '1 kHz at −6 dBFS at 0 dB gain, −26 dBFS after SET_GAIN −20 dB, silence before START and after STOP' : 'silent, with the reason its chip model gives'}`, async () => {
      const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-analog-'));
      const served = await serveBoard(name, { runtimeDir });
      try {
        const board = served.runtime.board;
        const out = board.streams.find((s) => s.direction === 'output')!;
        const endpoint = path.join(runtimeDir, 'audio-output', `${board.name}.${out.id}`);
        const monitor = path.join(runtimeDir, 'audio-input', `${board.name}.${out.id}.monitor`);
        const rate = 48000;
        const channels = 2;
        // Gain 0 dB first where the stream has a gain (a second client: the player owns the stream).
        const control = served.runtime.codec.gainControls().find((c) => c.main && c.direction === 'output');
        // Long enough that a SET_GAIN answered late on a busy machine still leaves −20 dB to measure:
        // the window is taken from when the answer came (below), not from a fixed 0.6 s.
        const toneSeconds = 2;
        const tone = toneSamples(1000, toneSeconds, rate, channels, -6);
        let gainChangedAtFrame = -1;
        let gainAnsweredNs = 0;
        let monitorStartNs = 0;
        let fixedGainAnswer: { result: number; curGain: number } | undefined;
        // The stream gain at 0 dB first (the board starts muted), while stopped: it lands on the chip.
        if (control) {
          await served.runtime.codec.setGain(control.name, 0);
          await served.runtime.codec.setMute(control.name, false);
        }
        const recording = recordSamples({ endpoint: monitor, rate, channels, onOpen: ({ startTimeNs }) => { monitorStartNs = startTimeNs; } }, Math.round(rate * (toneSeconds + 2.0)));
        await new Promise((r) => setTimeout(r, 250)); // the monitor runs before the client starts
        const played = playSamples({
          endpoint, rate, channels,
          onOpen: ({ stream }) => {
            void (async () => {
              await new Promise((r) => setTimeout(r, 600));
              const g = await stream.setGain({ gain: -20 });
              gainAnsweredNs = Number(process.hrtime.bigint());
              if (control) {
                assert.equal(g.result, 0);
                assert.equal(g.curGain, -20);
                gainChangedAtFrame = 1;
              } else {
                // R-GAIN-2 on a fixed-gain stream (min = max = 0): INVALID_ARGS (-10), nothing changes.
                fixedGainAnswer = { result: g.result, curGain: g.curGain };
              }
            })();
          },
        }, tone);
        await played;
        const rec = await recording;
        const head = peak(rec, channels, 0, Math.round(rate * 0.15));
        assert.ok(head === 0, `${name}: the monitor carries ${head} before START (expected digital zero)`);
        const tail = peak(rec, channels, rec.length / channels - Math.round(rate * 0.1), rec.length / channels);
        assert.ok(tail === 0, `${name}: the monitor carries ${tail} after STOP (expected digital zero)`);
        if (!audible) {
          assert.equal(peak(rec, channels, 0, rec.length / channels), 0, `${name}: expected silence, the monitor carries sound`);
          const st = served.runtime.analog!.state();
          const o = st.outputs[0]!;
          const why = o.clockError ?? o.path?.silentBecause ?? '';
          assert.match(why, EXPECTED_SILENT[name]!, `${name}: the chip model's reason: ${why}`);
          return;
        }
        const span = loudSpan(rec, channels, 0.01);
        assert.ok(span, `${name}: the monitor stayed silent while the tone played`);
        const [first, last] = span;
        // At 0 dB: the first 0.3 s after the tone began (the gain changes 0.6 s after the ring buffer opened).
        const a0 = first + Math.round(rate * 0.05), a1 = first + Math.round(rate * 0.3);
        const p0 = peak(rec, channels, a0, a1);
        assert.ok(Math.abs(dB(p0) - dB(MINUS_6)) <= 0.1, `${name}: ${dB(p0).toFixed(3)} dBFS at 0 dB gain, expected −6 ± 0.1`);
        const f0 = frequency(rec, channels, rate, a0, a1);
        assert.ok(Math.abs(f0 - 1000) <= 1, `${name}: ${f0.toFixed(2)} Hz, expected 1000 ± 1`);
        // After SET_GAIN: from 50 ms after its answer (the register is written before the answer;
        // monitor frame k is the output at start_time − 50 ms + k / rate) to 50 ms before the end.
        // On a busy machine the monitor's own capture can lose frames (an overrun shifts its frames
        // against the clock), so the window also starts no earlier than 60 ms (the ramp and a
        // margin) after the last 10 ms block the recording itself carries above −16 dBFS (halfway
        // between the two levels): the change is found in the sound, not only on the clock.
        const answeredAt = Math.round(((gainAnsweredNs - monitorStartNs + 50e6) * rate) / 1e9); // the monitor's 50 ms (docs/PROTOCOL.md, "Monitor endpoints")
        const block = rate / 100;
        let lastLoud = a1;
        if (control) for (let k = a1; k + block <= last; k += block) if (dB(peak(rec, channels, k, k + block)) > -16) lastLoud = k + block;
        const b0 = Math.max(answeredAt + Math.round(rate * 0.05), a1, control ? lastLoud + Math.round(rate * 0.06) : 0), b1 = last - Math.round(rate * 0.05);
        assert.ok(b1 - b0 >= rate * 0.1, `${name}: only ${((b1 - b0) / rate).toFixed(3)} s of the tone after the SET_GAIN answer`);
        const p1 = peak(rec, channels, b0, b1);
        if (!control) assert.deepEqual(fixedGainAnswer, { result: -10, curGain: 0 }, `${name}: the fixed-gain answer to SET_GAIN −20 dB`);
        else assert.ok(gainChangedAtFrame > 0, `${name}: SET_GAIN −20 dB was answered`);
        const expected = control ? MINUS_26 : MINUS_6; // fixed-gain boards keep their level
        assert.ok(Math.abs(dB(p1) - dB(expected)) <= 0.1, `${name}: ${dB(p1).toFixed(3)} dBFS at the end, expected ${dB(expected).toFixed(1)} ± 0.1`);
        console.log(`      monitor: ${f0.toFixed(3)} Hz, ${dB(p0).toFixed(3)} dBFS at 0 dB, ${dB(p1).toFixed(3)} dBFS ${control ? 'after SET_GAIN −20 dB' : '(fixed gain)'}`);
      } finally {
        await served.close();
        rmSync(runtimeDir, { recursive: true, force: true });
      }
    });
  }

  it('a client sees the monitor endpoint as an input stream with the monitor delay as its external delay', async () => {
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-analog-'));
    const served = await serveBoard('sim', { runtimeDir });
    try {
      const c = await StreamClient.connect(path.join(runtimeDir, 'audio-input', 'sim.headphone.monitor'));
      const f = await c.setFormat({ fps: 48000, sampleFormat: 1 << 2, channels: 2 });
      assert.equal(f.result, 0);
      assert.equal(Number(f.externalDelayNs), 50e6);
      await c.close();
    } finally {
      await served.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});

/** Plays 1 kHz at −6 dBFS through a sim-codec built from `description`, on a virtual clock; returns what the speaker output carried. */
async function playThroughChip(description: CodecDescription, o: { ampLine?: boolean } = {}) {
  const clock = new VirtualClock(1e9, false);
  const hal = new SimHal({ clock });
  const model = new SimCodecModel();
  const bus = hal.simBus(1);
  bus.attach(0x1b, model);
  const gpio = hal.simChip('sim-gpio0');
  const amp = await gpio.requestLines([22], { direction: 'output', initial: 0 }, 'test amp');
  const link = hal.i2sLink('sim:0,0');
  const analog = new AnalogSimulation({
    clock, chip: model,
    outputs: [{ stream: 'speaker', chipOutput: 'speaker', link, gate: () => amp.getValue(22) === 1 }],
  });
  bus.afterWrite.add(() => analog.changed());
  const codec = new SimCodecOver(description, { clock, bus, addr: 0x1b, gpio: new Map(), options: {}, sleepMs: (ms) => clock.sleepUntilNs(clock.nowNs() + ms * 1e6) });
  const power = new BoardPower(codec, clock, o.ampLine === false ? {} : { enable: { request: amp, offset: 22 } }, { onLineChange: () => analog.changed() });
  await codec.probe();
  await codec.init();
  await codec.setFormat({ rate: 48000, channels: 2, bits: 16 });
  await codec.setGain('Digital Playback Volume', 0);
  const pcm = await hal.pcm.open('sim:0,0', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 480, bufferFrames: 4800, startThreshold: Infinity });
  const tone = toneSamples(1000, 0.5, 48000, 2, -6);
  const bytes = new Uint8Array(tone.buffer, tone.byteOffset, tone.byteLength);
  let written = pcm.write(bytes, 4800);
  pcm.start();
  const t0 = clock.nowNs();
  await power.powerUp();
  while (written < tone.length / 2) {
    clock.advanceBy(10e6);
    written += pcm.write(bytes.subarray(written * 4), tone.length / 2 - written);
  }
  clock.advanceBy(200e6);
  const out = analog.render('speaker', t0, 48000 * 0.5, 48000, 2);
  const state = analog.state();
  pcm.close();
  return { peak: out.reduce((m, v) => Math.max(m, Math.abs(v)), 0), state, events: analog.events };
}

describe('analog truth: negative controls on broken copies of the sim-codec description (virtual clock)', () => {
  it('control: the description as it is plays 1 kHz at −6 dBFS on the speaker', async () => {
    const r = await playThroughChip(simCodec);
    assert.ok(Math.abs(dB(r.peak) - dB(MINUS_6)) <= 0.1, `${dB(r.peak)} dBFS`);
  });

  it('drop the step that powers the DAC up → silence, and the model says why', async () => {
    const broken: CodecDescription = { ...simCodec, sequences: { ...simCodec.sequences, powerUp: [] } };
    const r = await playThroughChip(broken);
    assert.equal(r.peak, 0);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /power/i);
  });

  it('a wrong word length → a clock error and no tone', async () => {
    const regs = simCodec.regmap!.registers.map((x) => (x.name === 'FORMAT'
      ? { ...x, fields: [{ name: 'WLEN', bits: [1, 0] as [number, number], values: { '16': 2, '20': 1, '24': 0, '32': 3 } }] } : x));
    const broken: CodecDescription = { ...simCodec, regmap: { ...simCodec.regmap!, registers: regs } };
    const r = await playThroughChip(broken);
    assert.equal(r.peak, 0);
    assert.ok(r.events.some((e) => e.what === 'clock-error' && /word length/.test(e.detail)), JSON.stringify(r.events.filter((e) => e.what === 'clock-error')));
  });

  it('the amplifier line left off → the speaker is silent', async () => {
    const r = await playThroughChip(simCodec, { ampLine: false });
    assert.equal(r.peak, 0);
    assert.equal(r.state.outputs[0]!.amplifier, false);
  });
});

/** Captures 0.1 s of a full-scale-quarter sine through the sim-codec's input path, as `description` brings it up. */
async function captureThroughChip(description: CodecDescription): Promise<{ peak: number; why?: string }> {
  const clock = new VirtualClock(1e9, false);
  const hal = new SimHal({ clock });
  const model = new SimCodecModel();
  const bus = hal.simBus(1);
  bus.attach(0x1b, model);
  const gate = hal.adcGate('sim:0,2');
  const analog = new AnalogSimulation({ clock, chip: model, outputs: [], inputs: [{ stream: 'mic', chipInput: 'mic', gate }] });
  bus.afterWrite.add(() => analog.changed());
  const codec = new SimCodecOver(description, { clock, bus, addr: 0x1b, gpio: new Map(), options: {}, sleepMs: async () => {} });
  await codec.probe();
  await codec.init();
  await new BoardPower(codec, clock, {}).powerUp();
  hal.pcm.setCaptureSource('sim:0,2', (out, first, frames) => {
    const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
    for (let f = 0; f < frames; f++) {
      const x = Math.round(8192 * Math.sin((2 * Math.PI * 440 * (first + f)) / 48000));
      v.setInt16(f * 4, x, true);
      v.setInt16(f * 4 + 2, x, true);
    }
  });
  const pcm = await hal.pcm.open('sim:0,2', { direction: 'capture', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 480, bufferFrames: 4800, startThreshold: 0 });
  pcm.start();
  clock.advanceBy(100e6);
  const buf = new Uint8Array(4800 * 4);
  const n = pcm.read(buf, 4800);
  pcm.close();
  const s = new Int16Array(buf.buffer, 0, n * 2);
  return { peak: s.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 32768, why: analog.state().inputs[0]!.path?.silentBecause };
}

describe('analog truth: the capture side passes the chip\'s input path (virtual clock)', () => {
  it('control: with the ADC powered the microphone\'s sine reaches the capture PCM at its level (0.25 of full scale)', async () => {
    const r = await captureThroughChip(simCodec);
    assert.ok(Math.abs(r.peak - 0.25) < 0.001, `peak ${r.peak}`);
  });

  it('the ADC left powered down → the capture PCM gets digital silence, and the model says why', async () => {
    const broken: CodecDescription = { ...simCodec, sequences: { ...simCodec.sequences, powerUp: [{ op: 'update', reg: 'POWER', fields: { DAC: 1 } }] } };
    const r = await captureThroughChip(broken);
    assert.equal(r.peak, 0);
    assert.match(r.why ?? '', /power/i);
  });
});

/**
 * Plays 1 kHz at −6 dBFS, 48 kHz 16-bit, through a PCM5122 driven by `description` (the part's
 * hooks over it), on a virtual clock, as `tone` does: probe, init, format, the PCM started, then
 * power-up (`order: 'power-first'` powers up before the PCM starts). The DAC+ Pro twin's set-up with
 * `pro`: clocking master-oscillators, both oscillators fitted. Returns what line-out carried from
 * the first bus access on, the analog events and the model (its write log).
 */
async function playThroughPcm5122(description: CodecDescription, o: { order?: 'pcm-first' | 'power-first'; pro?: boolean } = {}) {
  const clock = new VirtualClock(1e9, false);
  const hal = new SimHal({ clock });
  const model = new Pcm5122Model();
  const bus = hal.simBus(1);
  bus.attach(0x4d, model);
  const link = hal.i2sLink('sim:0,0');
  const analog = new AnalogSimulation({
    clock, chip: model, outputs: [{ stream: 'line-out', chipOutput: 'line-out', link }],
    oscillatorsHz: o.pro ? [24_576_000, 22_579_200] : [],
  });
  bus.afterWrite.add(() => analog.changed());
  const codec = new Pcm5122Driver({
    clock, bus, addr: 0x4d, gpio: new Map(), options: o.pro ? { clocking: 'master-oscillators' } : {},
    sleepMs: async (ms) => clock.advanceBy(ms * 1e6), // nothing else runs meanwhile: a sleep is an advance
  }, description);
  const power = new BoardPower(codec, clock, {}, { onLineChange: () => analog.changed() });
  const tStart = clock.nowNs();
  await codec.probe();
  await codec.init();
  await codec.setFormat({ rate: 48000, channels: 2, bits: 16 });
  await codec.setGain('Digital Playback Volume', 0);
  if (o.order === 'power-first') await power.powerUp();
  const pcm = await hal.pcm.open('sim:0,0', { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 480, bufferFrames: 4800, startThreshold: Infinity });
  const tone = toneSamples(1000, 0.5, 48000, 2, -6);
  const bytes = new Uint8Array(tone.buffer, tone.byteOffset, tone.byteLength);
  clock.advanceBy(1e6);
  let written = pcm.write(bytes, 4800);
  pcm.start();
  const pcmStartNs = clock.nowNs();
  clock.advanceBy(1e6);
  if (o.order !== 'power-first') await power.powerUp();
  while (written < tone.length / 2) {
    clock.advanceBy(10e6);
    written += pcm.write(bytes.subarray(written * 4), tone.length / 2 - written);
  }
  clock.advanceBy(200e6);
  const frames = Math.ceil(((clock.nowNs() - tStart) * 48000) / 1e9);
  const out = analog.render('line-out', tStart, frames, 48000, 2);
  const state = analog.state();
  pcm.close();
  // The tone alone: after the first 5 ms of the PCM (a pop of the model decays within 8 ms).
  const from = Math.ceil(((pcmStartNs + 10e6 - tStart) * 48000) / 1e9) * 2;
  const peakOf = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  return { peak: peakOf(out.subarray(from)), peakAll: peakOf(out), state, events: analog.events, model, pcmStartNs };
}

/** The description with `drop` steps removed from one sequence or sub-sequence. */
function without(d: CodecDescription, where: { sequence?: keyof CodecDescription['sequences']; sub?: string }, drop: (s: SequenceStep) => boolean): CodecDescription {
  if (where.sequence) return { ...d, sequences: { ...d.sequences, [where.sequence]: d.sequences[where.sequence].filter((s) => !drop(s)) } };
  const subs = d.subSequences!;
  assert.ok(subs[where.sub!]!.some(drop), `the description's ${where.sub} has the step to drop`);
  return { ...d, subSequences: { ...subs, [where.sub!]: subs[where.sub!]!.filter((s) => !drop(s)) } };
}

/** Writes to page 0 reg 2 that leave standby (RQST 1 → 0), from the model's log. */
const standbyLeft = (m: Pcm5122Model) => m.writes.filter((w, i) => w.page === 0 && w.reg === 2 && (w.value & 0x11) === 0 &&
  m.writes.slice(0, i).reverse().find((p) => p.page === 0 && p.reg === 2)!.value & 0x10);

describe('analog truth: the PCM5122 bring-up and its truncated copies (virtual clock)', () => {
  it('control: the description as it is plays 1 kHz at −6 dBFS on line-out, with no clock error and no pop', async () => {
    for (const pro of [false, true]) {
      const r = await playThroughPcm5122(pcm5122, { pro });
      assert.ok(Math.abs(dB(r.peak) - dB(MINUS_6)) <= 0.1, `${pro ? 'DAC+ Pro' : 'slave'}: ${dB(r.peak)} dBFS`);
      assert.ok(Math.abs(dB(r.peakAll) - dB(MINUS_6)) <= 0.1, 'nothing louder anywhere (no pop)');
      assert.deepEqual(r.events.filter((e) => e.what === 'transient'), []);
      assert.equal(r.state.outputs[0]!.clockError, undefined);
    }
  });

  it('ordering: standby is left once, after the PCM runs (the bit clock ran at that write), then the unmute', async () => {
    const r = await playThroughPcm5122(pcm5122);
    const left = standbyLeft(r.model);
    assert.equal(left.length, 1);
    assert.equal(left[0]!.bitClock, true);
    assert.ok(left[0]!.atNs > r.pcmStartNs, 'after pcm.start()');
    const unmutes = r.model.writes.map((w, i) => (w.page === 0 && w.reg === 3 && w.value === 0x00 ? i : -1)).filter((i) => i >= 0);
    assert.ok(unmutes.length > 0 && unmutes.every((i) => i > r.model.writes.indexOf(left[0]!)), 'unmuted only after standby is left');
    // The analog events agree: standby through the set-up, active only once the PCM runs.
    const power = r.events.filter((e) => e.what === 'power');
    assert.ok(power.filter((e) => e.detail === 'standby').every((e) => e.atNs < r.pcmStartNs));
    assert.deepEqual([power.at(-1)!.detail, power.at(-1)!.atNs > r.pcmStartNs], ['active', true]);
  });

  it('negative (order): power-up before the PCM runs → standby left with no bit clock, and the model\'s pop', async () => {
    const r = await playThroughPcm5122(pcm5122, { order: 'power-first' });
    const left = standbyLeft(r.model);
    assert.equal(left[0]!.bitClock, false);
    const pops = r.events.filter((e) => e.what === 'transient');
    assert.equal(pops.length, 1);
    assert.match(pops[0]!.detail, /left standby \(reg 2 RQST 1 -> 0\) while no bit clock ran/);
    assert.ok(r.peakAll >= 1, `the pop reaches line-out (peak ${r.peakAll})`);
  });

  it('negative: the copy without the PLL reference (reg 13 = BCK) → SCK missing, and no tone', async () => {
    const broken = without(pcm5122, { sub: 'clocking:slave-bck-pll' }, (s) => s.op === 'update' && s.reg === 'PLL_REF');
    const r = await playThroughPcm5122(broken);
    assert.equal(r.peak, 0);
    assert.equal(r.model.peek(0, 13), 0x00);
    assert.ok(r.events.some((e) => e.what === 'clock-error' && /SCK missing \(PLL reference is SCK/.test(e.detail)), JSON.stringify(r.events.filter((e) => e.what === 'clock-error')));
  });

  it('negative: the copy without the word length (reg 40 [1:0]) → the 24-bit reset word length refuses the 16-bit link, no tone', async () => {
    const broken = without(pcm5122, { sub: 'format' }, (s) => s.op === 'hook' && s.name === 'word-length');
    const r = await playThroughPcm5122(broken);
    assert.equal(r.peak, 0);
    assert.equal(r.model.peek(0, 40) & 0x03, 2);
    assert.ok(r.events.some((e) => e.what === 'clock-error' && /word length: page 0 reg 40 \[1:0\] = 2 \(24-bit\) but the link carries 16-bit words/.test(e.detail)));
  });

  it('negative: the copy that leaves standby in init, before the PCM runs → the model\'s pop', async () => {
    const broken: CodecDescription = { ...pcm5122, sequences: { ...pcm5122.sequences, init: [...pcm5122.sequences.init, ...pcm5122.sequences.powerUp] } };
    const r = await playThroughPcm5122(broken);
    const left = standbyLeft(r.model);
    assert.equal(left[0]!.bitClock, false);
    assert.ok(left[0]!.atNs < r.pcmStartNs);
    const pops = r.events.filter((e) => e.what === 'transient');
    assert.equal(pops.length, 1);
    assert.match(pops[0]!.detail, /no bit clock ran/);
    assert.ok(r.peakAll >= 1, `the pop reaches line-out (peak ${r.peakAll})`);
  });

  it('negative (DAC+ Pro): the copy without the master dividers → not the facts\' divider set, no tone', async () => {
    const broken: CodecDescription = { ...pcm5122, subSequences: { ...pcm5122.subSequences!, 'dividers:32-bck': [] } };
    const r = await playThroughPcm5122(broken, { pro: true });
    assert.equal(r.peak, 0);
    assert.ok(r.events.some((e) => e.what === 'clock-error' && /not the facts' divider set/.test(e.detail)));
  });
});

describe('analog truth: the WM8960 HAT twin\'s speaker and microphone (through the stream service)', function () {
  this.timeout(60000);
  const BOARD = 'waveshare-wm8960-hat-sim';

  it('the speaker stream: its monitor carries 1 kHz at −6 dBFS (the speaker path powered); the headphone\'s, on the same link, stays silent', async () => {
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-analog-'));
    const served = await serveBoard(BOARD, { runtimeDir });
    try {
      const rate = 48000, channels = 2;
      await served.runtime.codec.setGain('Digital Playback Volume', 0);
      await served.runtime.codec.setMute('Digital Playback Volume', false);
      const monitor = (id: string) => path.join(runtimeDir, 'audio-input', `${BOARD}.${id}.monitor`);
      const frames = Math.round(rate * 2.2);
      const speaker = recordSamples({ endpoint: monitor('speaker'), rate, channels }, frames);
      const headphone = recordSamples({ endpoint: monitor('headphone'), rate, channels }, frames);
      await new Promise((r) => setTimeout(r, 250));
      await playSamples({ endpoint: path.join(runtimeDir, 'audio-output', `${BOARD}.speaker`), rate, channels }, toneSamples(1000, 1.0, rate, channels, -6));
      const spk = await speaker, hp = await headphone;
      const span = loudSpan(spk, channels, 0.01);
      assert.ok(span, 'the speaker monitor stayed silent while the tone played');
      const [first, last] = span;
      const p = peak(spk, channels, first + Math.round(rate * 0.05), last - Math.round(rate * 0.05));
      assert.ok(Math.abs(dB(p) - dB(MINUS_6)) <= 0.1, `speaker: ${dB(p).toFixed(3)} dBFS, expected −6 ± 0.1`);
      const f = frequency(spk, channels, rate, first + Math.round(rate * 0.05), last - Math.round(rate * 0.05));
      assert.ok(Math.abs(f - 1000) <= 1, `speaker: ${f.toFixed(2)} Hz`);
      assert.equal(peak(hp, channels, 0, hp.length / channels), 0, 'the headphone path was not powered: its monitor carries nothing');
      console.log(`      speaker monitor: ${f.toFixed(3)} Hz, ${dB(p).toFixed(3)} dBFS; headphone monitor silent`);
    } finally {
      await served.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });

  it('the microphone stream records what the simulated microphone carries (440 Hz at a quarter of full scale: PGA 0 dB, ADC 0 dB)', async () => {
    const runtimeDir = mkdtempSync(path.join(tmpdir(), 'sbc-analog-'));
    const served = await serveBoard(BOARD, { runtimeDir });
    try {
      const rate = 48000, channels = 2;
      const rec = await recordSamples({ endpoint: path.join(runtimeDir, 'audio-input', `${BOARD}.microphone`), rate, channels }, Math.round(rate * 1.0));
      const span = loudSpan(rec, channels, 0.01);
      assert.ok(span, 'the capture stayed silent');
      const [first, last] = span;
      const a = first + Math.round(rate * 0.05), b = last - Math.round(rate * 0.02);
      const p = peak(rec, channels, a, b);
      assert.ok(Math.abs(dB(p) - dB(0.25)) <= 0.1, `${dB(p).toFixed(3)} dBFS, expected −12.04 ± 0.1`);
      const f = frequency(rec, channels, rate, a, b);
      assert.ok(Math.abs(f - 440) <= 1, `${f.toFixed(2)} Hz`);
      console.log(`      microphone: ${f.toFixed(3)} Hz, ${dB(p).toFixed(3)} dBFS`);
    } finally {
      await served.close();
      rmSync(runtimeDir, { recursive: true, force: true });
    }
  });
});

describe('analog truth: the WM8960 bring-up and its truncated copies (virtual clock)', () => {
  const paths = wm8960.paths!;
  /** The description with the steps `drop` picks removed from powerUp, or from one path's up steps. */
  const cut = (where: 'powerUp' | `path:${string}`, drop: (s: SequenceStep) => boolean): CodecDescription => {
    if (where === 'powerUp') {
      assert.ok(wm8960.sequences.powerUp.some(drop), 'powerUp has the step to drop');
      return { ...wm8960, sequences: { ...wm8960.sequences, powerUp: wm8960.sequences.powerUp.filter((s) => !drop(s)) } };
    }
    const name = where.slice(5);
    const pth = paths[name]!;
    assert.ok(pth.up.some(drop), `path ${name} has the step to drop`);
    return { ...wm8960, paths: { ...paths, [name]: { ...pth, up: pth.up.filter((s) => !drop(s)) } } };
  };
  const updates = (reg: string, field?: string) => (s: SequenceStep) => s.op === 'update' && s.reg === reg && (field === undefined || field in s.fields);

  it('control: the description as it is plays 1 kHz at −6 dBFS on the headphone, and on the speaker with the speaker path, with no clock error and no pop', async () => {
    for (const clocking of ['mclk-12m288', 'pll-24m'] as const) {
      const hp = await playThroughWm8960({ clocking });
      assert.ok(Math.abs(dB(hp.peak.headphone) - dB(MINUS_6)) <= 0.1, `${clocking} headphone: ${dB(hp.peak.headphone)} dBFS`);
      assert.equal(hp.peak.speaker, 0, 'the speaker path not in use: silent');
      assert.equal(hp.state.outputs[0]!.clockError, undefined);
      assert.deepEqual(hp.events.filter((e) => e.what === 'transient'), []);
      const spk = await playThroughWm8960({ clocking, paths: [{ direction: 'output', purpose: 'speaker' }] });
      assert.ok(Math.abs(dB(spk.peak.speaker) - dB(MINUS_6)) <= 0.1, `${clocking} speaker: ${dB(spk.peak.speaker)} dBFS`);
      assert.equal(spk.peak.headphone, 0, 'the headphone path not in use: silent');
    }
  });

  it('negative: the copy without the routing (R34/R37 bit 8) → silent, "not routed into the output mixer"', async () => {
    const r = await playThroughWm8960({ description: cut('path:playback', (s) => updates('LEFT_OUT_MIX')(s) || updates('RIGHT_OUT_MIX')(s)) });
    assert.equal(r.peak.headphone, 0);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /not routed into the output mixer \(R34 bit 8\)/);
    assert.equal(r.model.peek(34), undefined, 'R34 never written');
  });

  it('negative: the copy that leaves the DAC soft-muted (R5 bit 3) → silent, "DAC soft mute"', async () => {
    const r = await playThroughWm8960({ description: cut('powerUp', updates('DAC_CTRL1', 'SOFT_MUTE')) });
    assert.equal(r.peak.headphone, 0);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /DAC soft mute \(R5 bit 3/);
  });

  it('negative: the copy without VMID (R25 [8:7]) → silent, "VMID off"', async () => {
    const r = await playThroughWm8960({ description: cut('powerUp', updates('POWER1', 'VMIDSEL')) });
    assert.equal(r.peak.headphone, 0);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /VMID off/);
  });

  it('capture: the microphone path passes the microphone\'s sine at its level (0.25 of full scale); no path, or the PGA left muted, → digital silence and why', async () => {
    const ok = await captureThroughWm8960();
    assert.ok(Math.abs(ok.peak - 0.25) < 0.001, `peak ${ok.peak}`);
    const none = await captureThroughWm8960({ paths: [] });
    assert.equal(none.peak, 0);
    assert.match(none.why ?? '', /input PGA not powered \(R25 0x020\)/);
    const muted = await captureThroughWm8960({ description: cut('path:microphone', (s) => s.op === 'update' && /INPUT_VOL/.test(s.reg)) });
    assert.equal(muted.peak, 0);
    assert.match(muted.why ?? '', /input PGA muted \(R0 bit 7; resets muted\)/);
  });
});

describe('analog truth: the TLV320AIC3104, SGTL5000 and CS4271 bring-ups and their truncated copies (virtual clock)', () => {
  /** A copy of `d` without the steps `drop` picks from one sequence or sub-sequence (which must have one). */
  function cut(d: CodecDescription, where: keyof CodecDescription['sequences'] | `sub:${string}`, drop: (s: SequenceStep) => boolean): CodecDescription {
    if (where.startsWith('sub:')) {
      const name = where.slice(4);
      assert.ok(d.subSequences![name]!.some(drop), `${name} has the step to drop`);
      return { ...d, subSequences: { ...d.subSequences, [name]: d.subSequences![name]!.filter((s) => !drop(s)) } };
    }
    const seq = where as keyof CodecDescription['sequences'];
    assert.ok(d.sequences[seq].some(drop), `${seq} has the step to drop`);
    return { ...d, sequences: { ...d.sequences, [seq]: d.sequences[seq].filter((s) => !drop(s)) } };
  }
  const touches = (reg: string) => (s: SequenceStep) => (s.op === 'write' || s.op === 'update') && s.reg === reg;

  it('control: each part as described plays 1 kHz at −6 dBFS (16- and 32-bit), with no clock error and no pop', async () => {
    for (const part of ['tlv320aic3104', 'sgtl5000', 'cs4271'] as const) {
      for (const bits of part === 'sgtl5000' ? [16] as const : [16, 32] as const) {
        const r = await playThroughPart(part, { bits });
        assert.ok(Math.abs(dB(r.peak) - dB(MINUS_6)) <= 0.1, `${part} ${bits}-bit: ${dB(r.peak)} dBFS`);
        assert.equal(r.state.outputs[0]!.clockError, undefined, `${part} ${bits}-bit`);
        assert.deepEqual(r.events.filter((e) => e.what === 'transient' || e.what === 'clock-error'), [], `${part} ${bits}-bit`);
      }
    }
  });

  it('negative: the AIC3104 copy without reg 8 = 0xC0 → nobody drives BCLK/WCLK (the host is a clock consumer): a clock error, silence', async () => {
    const r = await playThroughPart('tlv320aic3104', { description: cut(aic3104, 'sub:format', touches('IFACE_A')) });
    assert.equal(r.peak, 0);
    assert.equal(r.model.peek(0, 8), 0x00);
    assert.match(r.state.outputs[0]!.clockError ?? '', /no clocks: the codec is a slave \(reg 8 = 0x00, not 0xC0\) and the host is a clock consumer/);
  });

  it('negative: the AIC3104 copy without the output power (R51/R65) → silent, "HPLOUT not powered"', async () => {
    const r = await playThroughPart('tlv320aic3104', { description: cut(aic3104, 'powerUp', (s) => touches('HPLOUT_CTRL')(s) || touches('HPROUT_CTRL')(s)) });
    assert.equal(r.peak, 0);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /HPLOUT not powered \(reg 51 bit 0\)/);
  });

  it('negative: the AIC3104 copy without the 50 ms wait → the model\'s pop as the DAC unmutes onto the fresh drivers', async () => {
    const r = await playThroughPart('tlv320aic3104', { description: cut(aic3104, 'powerUp', (s) => s.op === 'delay') });
    const pops = r.events.filter((e) => e.what === 'transient');
    assert.equal(pops.length, 2, JSON.stringify(pops));
    assert.match(pops[0]!.detail, /signal reached HPLOUT 0\.0 ms after it was powered/);
  });

  it('negative: the SGTL5000 copy without the DAC power (ANA_POWER 0x0008) → silent, "DAC not powered"', async () => {
    const up = sgtl5000.sequences.powerUp.map((s) => (touches('ANA_POWER')(s) && s.op === 'update' ? { ...s, fields: { HP: 1, ADC: 1, VAG: 1 } } : s));
    const r = await playThroughPart('sgtl5000', { description: { ...sgtl5000, sequences: { ...sgtl5000.sequences, powerUp: up } } });
    assert.equal(r.peak, 0);
    assert.equal(r.model.peek(0x0030) & 0x0008, 0);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /DAC not powered \(ANA_POWER 0x0008\)/);
  });

  it('negative: the CS4271 copy left in power down (MODE2 0x03, never 0x02) → silent, "PDN"', async () => {
    const isLeave = (s: SequenceStep) => (s.op === 'write' && s.reg === 'MODE2' && s.value === 0x02) || (s.op === 'update' && s.reg === 'MODE2' && s.fields.PDN === 0);
    const r = await playThroughPart('cs4271', { description: cut(cut(cs4271, 'init', isLeave), 'powerUp', isLeave) });
    assert.equal(r.peak, 0);
    assert.equal(r.model.peek(0x07), 0x03);
    assert.match(r.state.outputs[0]!.path!.silentBecause ?? '', /powered down \(MODE2 0x07 bit 0, PDN\)/);
  });
});
