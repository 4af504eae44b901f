/**
 * Issue 21: start and stop on every simulated board without a click, heard at the simulated
 * chip's analog output (src/hal/sim/analog.ts, with the chip models' modelled pops).
 *
 * 1. Every simulated board, through the stream service on a virtual clock
 *    (tests/fixtures/virtual-service.ts): a client plays a 1 kHz cosine at half of full scale
 *    (it starts at its peak: without a fade START is a full step), STOP after 0.4 s. From
 *    start_time − 100 ms to the STOP answer + 800 ms: no step beyond the tone's own slope above
 *    −60 dBFS, no broadband burst above −60 dB in any 20 ms window (tests/unit/helpers/clicks.ts;
 *    the bounds and their reasoning: docs/CONTROL.md, "Pop-free start and stop: how it is
 *    measured, and the two bounds"); and the tone is there at −6.02 dBFS in the middle (a test
 *    that passes on silence proves nothing).
 * 2. Negative control (a): the same run with the fade off (`rampMs: 0`) fails the step check at
 *    START: the cosine's first sample, 0.5 after silence, is 0.5 − 0.5·2·sin(π/48) = 0.4346 beyond
 *    the tone's own slope, −7.24 dBFS.
 * 3. Negative control (b): a reordered bring-up fails through the chip model's modelled pop, on
 *    the virtual-clock rigs of tests/unit/analog-truth.test.ts: the sim-codec's DAC powered before
 *    the bit clock runs (codecs/sim-codec/model.ts: a pop of 0.5), the WM8960's outputs enabled
 *    and unmuted before VMID settled (the description without its 100 ms waits; codecs/wm8960/model.ts:
 *    a pop of 0.25). The same sequences in the right order, with a faded tone, pass the same detectors.
 */
import assert from 'node:assert/strict';
import { SimCodecDriver } from '../../codecs/sim-codec/driver.ts';
import { SimCodecModel } from '../../codecs/sim-codec/model.ts';
import { description as wm8960 } from '../../codecs/wm8960/description.ts';
import { listBoardNames, loadBoard } from '../../src/board/load.ts';
import { BoardPower, type StreamPath } from '../../src/board/power.ts';
import type { CodecDescription } from '../../src/codec/description.ts';
import type { CodecDriver } from '../../src/codec/types.ts';
import { AnalogSimulation, SimHal, VirtualClock } from '../../src/hal/sim/index.ts';
import { wm8960Rig } from '../fixtures/codecs/wm8960-rig.ts';
import { type ServicePlayback, playThroughService } from '../fixtures/virtual-service.ts';
import { BURST_BOUND_DB, STEP_BOUND_DBFS, stepExcess, worstBurst } from './helpers/clicks.ts';

const RATE = 48000;
const CH = 2;
const HALF = 0.5; // the tone's amplitude: 16384 / 32768, −6.02 dBFS
const dB = (x: number) => 20 * Math.log10(x);
const SIM_BOARDS = listBoardNames().filter((n) => loadBoard(n).hal === 'sim');

function peakOf(x: Float32Array, fromFrame = 0, toFrame = x.length / CH): number {
  let p = 0;
  for (let i = Math.max(0, fromFrame) * CH; i < Math.min(toFrame, x.length / CH) * CH; i++) p = Math.max(p, Math.abs(x[i]!));
  return p;
}

/** What a run through the service measures, with the frame positions named against START and STOP. */
interface Heard {
  x: Float32Array;
  fromNs: number;
  step: ReturnType<typeof stepExcess>;
  burst: ReturnType<typeof worstBurst>;
  middlePeak: number;
  where(frame: number): string;
}

function listen(p: ServicePlayback): Heard {
  const fromNs = p.startTimeNs - 100e6;
  const frames = Math.round(((p.stopAnsweredNs + 800e6 - fromNs) * RATE) / 1e9);
  const x = p.render(fromNs, frames);
  const frameAt = (ns: number) => Math.round(((ns - fromNs) * RATE) / 1e9);
  // The middle of the 0.4 s the tone plays: 150–350 ms after start_time, past any fade of up to 150 ms.
  const middlePeak = peakOf(x, frameAt(p.startTimeNs + 150e6), frameAt(p.startTimeNs + 350e6));
  const where = (frame: number) => {
    if (frame < 0) return 'nowhere';
    const ns = fromNs + (frame * 1e9) / RATE;
    const toStart = (ns - p.startTimeNs) / 1e6, toStop = (ns - p.stopAnsweredNs) / 1e6;
    return Math.abs(toStart) <= Math.abs(toStop) ? `START ${toStart >= 0 ? '+' : ''}${toStart.toFixed(2)} ms` : `STOP answer ${toStop >= 0 ? '+' : ''}${toStop.toFixed(2)} ms`;
  };
  return { x, fromNs, step: stepExcess(x, CH, RATE, 1000), burst: worstBurst(x, CH, RATE), middlePeak, where };
}

function figures(h: Heard): string {
  return `step excess ${h.step.worstDbfs.toFixed(2)} dBFS (${h.where(h.step.atFrame)}), worst burst ${h.burst.worstDb.toFixed(2)} dB (window from ${h.where(h.burst.atFrame)}), tone ${dB(h.middlePeak).toFixed(3)} dBFS`;
}

describe('pop-free start and stop: every simulated board through the stream service (virtual clock)', function () {
  this.timeout(120000);

  it('there are simulated boards to listen to', () => {
    assert.ok(SIM_BOARDS.length >= 11, `${SIM_BOARDS.length} simulated boards: ${SIM_BOARDS.join(', ')}`);
  });

  for (const name of SIM_BOARDS) {
    describe(name, () => {
      let p: ServicePlayback | undefined;
      let h: Heard;
      before(async () => {
        p = await playThroughService(name);
        h = listen(p);
        const pops = p.rt.analog!.events.filter((e) => e.what === 'transient' && e.atNs >= h.fromNs);
        console.log(`      ${name} (${p.stream}): ${figures(h)}; STOP answered ${((p.stopAnsweredNs - p.startTimeNs) / 1e6).toFixed(2)} ms after start_time${pops.length ? `; modelled pops: ${pops.map((e) => e.detail).join('; ')}` : ''}`);
      });
      after(async () => {
        await p?.close();
      });

      it('the tone plays at −6.02 dBFS (± 0.1 dB) in the middle', () => {
        assert.ok(Math.abs(dB(h.middlePeak) - dB(HALF)) <= 0.1, `${name}: ${dB(h.middlePeak).toFixed(3)} dBFS, expected −6.02 ± 0.1 (gain control: ${p!.gainControl ?? 'none, fixed gain'})`);
      });

      it(`no step beyond the tone's own larger than ${STEP_BOUND_DBFS} dBFS`, () => {
        assert.ok(h.step.worstDbfs <= STEP_BOUND_DBFS, `${name}: ${figures(h)}`);
      });

      it(`no broadband burst above ${BURST_BOUND_DB} dB in a 20 ms window`, () => {
        assert.ok(h.burst.worstDb <= BURST_BOUND_DB, `${name}: ${figures(h)}`);
      });
    });
  }

  it('negative control (a): with the fade off (rampMs 0) the step check fails at START: −7.24 dBFS, the cosine\'s peak after silence', async () => {
    const p = await playThroughService('sim', { service: { rampMs: 0 } });
    try {
      const h = listen(p);
      console.log(`      sim, rampMs 0: ${figures(h)}`);
      assert.ok(Math.abs(dB(h.middlePeak) - dB(HALF)) <= 0.1, `the tone plays: ${dB(h.middlePeak).toFixed(3)} dBFS`);
      // Around START only (the stop is judged by the per-board tests above).
      const atStart = Math.round((100e6 * RATE) / 1e9);
      const s = stepExcess(h.x.subarray(0, (atStart + 4800) * CH), CH, RATE, 1000);
      assert.ok(s.worstDbfs > STEP_BOUND_DBFS, `step excess ${s.worstDbfs} dBFS`);
      assert.equal(s.atFrame, atStart, `at start_time (frame ${atStart} of the record), found at ${h.where(s.atFrame)}`);
      assert.ok(Math.abs(s.worstDbfs - -7.24) < 0.05, `${s.worstDbfs.toFixed(3)} dBFS, expected −7.24`);
    } finally {
      await p.close();
    }
  });
});

/** The rig parts a listening run needs (as tests/fixtures/codecs/*-rig.ts build them). */
interface Rig {
  clock: VirtualClock;
  hal: SimHal;
  analog: AnalogSimulation;
  codec: CodecDriver;
  power: BoardPower;
}

/** The sim-codec on a virtual clock as the sim board wires its speaker: amplifier line 22 gating it. */
async function simCodecRig(): Promise<Rig & { output: string }> {
  const clock = new VirtualClock(1e9, false);
  const hal = new SimHal({ clock });
  const model = new SimCodecModel();
  const bus = hal.simBus(1);
  bus.attach(0x1b, model);
  const amp = await hal.simChip('sim-gpio0').requestLines([22], { direction: 'output', initial: 0 }, 'test amp');
  const link = hal.i2sLink('sim:0,0');
  const analog = new AnalogSimulation({
    clock, chip: model, outputs: [{ stream: 'speaker', chipOutput: 'speaker', link, gate: () => amp.getValue(22) === 1 }],
  });
  bus.afterWrite.add(() => analog.changed());
  const codec = new SimCodecDriver({ clock, bus, addr: 0x1b, gpio: new Map(), options: {}, sleepMs: async (ms) => clock.advanceBy(ms * 1e6) });
  const power = new BoardPower(codec, clock, { enable: { request: amp, offset: 22 } }, { onLineChange: () => analog.changed() });
  return { clock, hal, analog, codec, power, output: 'speaker' };
}

/**
 * Brings the chip up around a running PCM as the stream service does (the engine plays silence
 * until START): the PCM started with `silentMs` of silence, then a 1 kHz cosine at 0.5 faded in
 * linearly over 50 ms and out again to silence 50 ms before the end of 1 s; the power-up 20 ms after the PCM starts, or (`powerFirst`)
 * before the PCM runs. Returns the output from 10 ms before the power-up or the PCM start
 * (whichever first) to the end of the PCM's second, the analog events, and the steady tone's peak.
 */
async function aroundPowerUp(rig: Rig, output: string, o: { powerFirst?: boolean; paths?: StreamPath[]; silentMs: number }) {
  const { clock, hal, analog, codec, power } = rig;
  await codec.probe();
  await codec.init();
  await codec.setFormat({ rate: RATE, channels: CH, bits: 16 });
  await codec.setGain('Digital Playback Volume', 0);
  const frames = RATE; // 1 s
  const silent = Math.round((o.silentMs * RATE) / 1000), fade = 2400;
  // The tone fades out again and ends 50 ms before the buffer does (an underrun would be a step of its own).
  const end = frames - 2400;
  const samples = new Int16Array(frames * CH);
  for (let n = silent; n < end; n++) {
    const env = Math.min(1, (n - silent) / fade, (end - n) / fade);
    const v = Math.round(HALF * 32768 * env * Math.cos((2 * Math.PI * 1000 * (n - silent)) / RATE));
    samples[n * CH] = v;
    samples[n * CH + 1] = v;
  }
  const pcm = await hal.pcm.open('sim:0,0', { direction: 'playback', rate: RATE, channels: CH, format: 'S16_LE', periodFrames: 480, bufferFrames: frames, startThreshold: Infinity });
  assert.equal(pcm.write(new Uint8Array(samples.buffer), frames), frames);
  const t0 = clock.nowNs();
  if (o.powerFirst) await power.powerUp(o.paths);
  clock.advanceBy(1e6);
  pcm.start();
  const pcmStartNs = clock.nowNs();
  clock.advanceBy(20e6);
  pcm.avail(); // what the PCM played is on the link
  if (!o.powerFirst) await power.powerUp(o.paths);
  const upNs = clock.nowNs();
  while (clock.nowNs() < pcmStartNs + 1e9) {
    clock.advanceBy(10e6);
    pcm.avail();
  }
  const fromNs = t0 - 10e6;
  // To the end of the PCM's data (1 s after it started).
  const x = analog.render(output, fromNs, Math.floor(((pcmStartNs + 1e9 - fromNs) * RATE) / 1e9), RATE, CH);
  pcm.close();
  // The steady tone: from the end of the fade (or of the power-up, if later) + 20 ms, 200 ms of it.
  const steadyFrom = Math.round(((Math.max(pcmStartNs + ((silent + fade) * 1e9) / RATE, upNs) + 20e6 - fromNs) * RATE) / 1e9);
  return { x, fromNs, events: analog.events, steadyPeak: peakOf(x, steadyFrom, steadyFrom + 9600), upNs, pcmStartNs };
}

function measureRig(r: { x: Float32Array }) {
  return { step: stepExcess(r.x, CH, RATE, 1000), burst: worstBurst(r.x, CH, RATE) };
}

const frameOf = (r: { fromNs: number }, ns: number) => Math.round(((ns - r.fromNs) * RATE) / 1e9);

describe('pop-free: negative control (b), a reordered bring-up fails through the model\'s modelled pop (virtual-clock rigs)', () => {
  it('sim-codec, the DAC powered once the bit clock runs, a faded tone: passes both checks (control)', async () => {
    const rig = await simCodecRig();
    const r = await aroundPowerUp(rig, rig.output, { silentMs: 100 });
    const m = measureRig(r);
    console.log(`      sim-codec in order: step ${m.step.worstDbfs.toFixed(2)} dBFS, burst ${m.burst.worstDb.toFixed(2)} dB, tone ${dB(r.steadyPeak).toFixed(3)} dBFS`);
    assert.ok(Math.abs(dB(r.steadyPeak) - dB(HALF)) <= 0.1, `the tone plays: ${dB(r.steadyPeak)} dBFS`);
    assert.deepEqual(r.events.filter((e) => e.what === 'transient'), []);
    assert.ok(m.step.worstDbfs <= STEP_BOUND_DBFS, `step ${m.step.worstDbfs} dBFS at frame ${m.step.atFrame}`);
    assert.ok(m.burst.worstDb <= BURST_BOUND_DB, `burst ${m.burst.worstDb} dB at frame ${m.burst.atFrame}`);
  });

  it('sim-codec, the DAC powered before the bit clock runs: the model\'s pop (0.5) fails both checks, where it happened', async () => {
    const rig = await simCodecRig();
    const r = await aroundPowerUp(rig, rig.output, { silentMs: 100, powerFirst: true });
    const pops = r.events.filter((e) => e.what === 'transient');
    assert.equal(pops.length, 2, JSON.stringify(pops)); // speaker and headphone
    assert.match(pops[0]!.detail, /DAC powered up before the bit clock ran/);
    const m = measureRig(r);
    console.log(`      sim-codec powered first: step ${m.step.worstDbfs.toFixed(2)} dBFS at ${((m.step.atFrame * 1e9) / RATE + r.fromNs - pops[0]!.atNs) / 1e6} ms from the pop, burst ${m.burst.worstDb.toFixed(2)} dB`);
    // The pop: 0.5 from silence, 0.5·(1 − 2·sin(π/48)) = 0.4346 beyond a 1 kHz tone's slope: −7.24 dBFS.
    assert.ok(Math.abs(m.step.worstDbfs - -7.24) < 0.05, `step ${m.step.worstDbfs} dBFS`);
    const popFrame = frameOf(r, pops[0]!.atNs);
    assert.ok(Math.abs(m.step.atFrame - popFrame) <= 1, `the step at frame ${m.step.atFrame}, the pop at ${popFrame}`);
    assert.ok(m.burst.worstDb > BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
    assert.ok(m.burst.atFrame <= popFrame && popFrame < m.burst.atFrame + 960, 'the worst window holds the pop');
  });

  const withoutWaits: CodecDescription = { ...wm8960, sequences: { ...wm8960.sequences, powerUp: wm8960.sequences.powerUp.filter((s) => s.op !== 'delay') } };
  const headphone: StreamPath[] = [{ direction: 'output', purpose: 'headphone' }];

  it('WM8960, VMID settled before the outputs and the unmute, a faded tone: passes both checks (control)', async () => {
    const rig = wm8960Rig();
    const r = await aroundPowerUp(rig, 'headphone', { silentMs: 400, paths: headphone });
    const m = measureRig(r);
    console.log(`      WM8960 in order: step ${m.step.worstDbfs.toFixed(2)} dBFS, burst ${m.burst.worstDb.toFixed(2)} dB, tone ${dB(r.steadyPeak).toFixed(3)} dBFS, power-up ${((r.upNs - r.pcmStartNs) / 1e6).toFixed(0)} ms after the PCM started`);
    assert.ok(r.upNs - r.pcmStartNs < 400e6, 'the power-up ended before the tone began');
    assert.ok(Math.abs(dB(r.steadyPeak) - dB(HALF)) <= 0.1, `the tone plays: ${dB(r.steadyPeak)} dBFS`);
    assert.deepEqual(r.events.filter((e) => e.what === 'transient'), []);
    assert.ok(m.step.worstDbfs <= STEP_BOUND_DBFS, `step ${m.step.worstDbfs} dBFS at frame ${m.step.atFrame}`);
    assert.ok(m.burst.worstDb <= BURST_BOUND_DB, `burst ${m.burst.worstDb} dB at frame ${m.burst.atFrame}`);
  });

  it('WM8960, outputs enabled and unmuted before VMID settled (the description without its waits): the model\'s pop (0.25) fails both checks', async () => {
    assert.ok(wm8960.sequences.powerUp.some((s) => s.op === 'delay'), 'the power-up has waits to drop');
    const rig = wm8960Rig({ description: withoutWaits });
    const r = await aroundPowerUp(rig, 'headphone', { silentMs: 400, paths: headphone });
    const pops = r.events.filter((e) => e.what === 'transient');
    assert.ok(pops.length >= 1, 'a modelled pop');
    assert.match(pops[0]!.detail, /headphone: LOUT1\/ROUT1 enabled 0\.0 ms after VMID came on \(it needs 100 ms\)/);
    const m = measureRig(r);
    console.log(`      WM8960 without the VMID wait: step ${m.step.worstDbfs.toFixed(2)} dBFS, burst ${m.burst.worstDb.toFixed(2)} dB; pops: ${pops.map((e) => e.detail).join('; ')}`);
    // 0.25 from silence: 0.25·(1 − 2·sin(π/48)) = 0.21730, −13.26 dBFS (pops at one instant add up: at least that).
    assert.ok(m.step.worstDbfs >= -13.26 - 0.05, `step ${m.step.worstDbfs} dBFS`);
    const popFrame = frameOf(r, pops[0]!.atNs);
    assert.ok(Math.abs(m.step.atFrame - popFrame) <= 1, `the step at frame ${m.step.atFrame}, the pop at ${popFrame}`);
    assert.ok(m.burst.worstDb > BURST_BOUND_DB, `burst ${m.burst.worstDb} dB`);
  });
});
