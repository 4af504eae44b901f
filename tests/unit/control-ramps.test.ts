/**
 * Issue 21's timing and ramps, heard at the simulated analog output (src/hal/sim/analog.ts) of the
 * `sim` board served on a virtual clock, through the stream protocol as a client plays:
 *
 * 1. A trim event stamped for stream frame F changes the output exactly at F (±0 frames): F inside
 *    a period, on a period boundary (the engine's periods are 128 frames from frame 0), and in a
 *    later period.
 * 2. SET_GAIN −40 dB → 0 dB: the per-sample gain at the output is monotonic and no adjacent-sample
 *    step exceeds 0.05 dB (the register and the engine's fade handed over at one frame); the same
 *    with the ramps off (`rampMs: 0`) is one 40 dB step (the negative control).
 * 3. SET_GAIN → the change complete at the output ≤ FIFO + one period + the ramp time, measured.
 *
 * The client plays a constant (DC) at full scale, 16-bit, so the output divided by 32767/32768
 * is the gain in force at each sample (the sim chip applies its gain sample by sample and no
 * filter). Expected values are literals: −40 dB = 0.01, −6 dB = 0.501187, 50 ms = 2400 frames.
 */
import assert from 'node:assert/strict';
import { STATUS } from '../../src/stream/wire.ts';
import { type DcRig, LEVEL, NS, PERIOD, RATE, playDc } from '../fixtures/dc-service.ts';

type Rig = DcRig;

/** Waits (virtual time) until stream frame `f` has left the DAC, with a margin. */
const until = (r: Rig, f: number) => r.until(f);

const dB = (x: number) => 20 * Math.log10(x);

describe('control events at a frame, and ramps, heard at the analog output (sim board, virtual clock)', function () {
  this.timeout(60000);

  it('a trim event stamped for frame F changes the output exactly at F: inside a period, on a period boundary, in a later period', async () => {
    const r = await playDc();
    try {
      await until(r, 3000); // past the start fade (2400 frames)
      assert.ok(Math.abs(r.gains(2900, 1)[0]! - 1) < 1e-6, 'unity after the start fade');
      const cases: [string, number][] = [];
      let base = Math.ceil((r.position() + r.fifoFrames + 4 * PERIOD) / PERIOD) * PERIOD;
      cases.push(['inside a period', base + 37]);
      base += 20 * PERIOD;
      cases.push(['on a period boundary', base]);
      cases.push(['in a later period', base + 10 * PERIOD + 101]);
      let expected = 1;
      for (const [what, F] of cases) {
        const target = expected === 1 ? 0.501187 : 1; // −6 dB, then back
        const dbValue = target === 1 ? 0 : -6;
        const info = await r.service.controls.set('sim.speaker.trim', dbValue, { at: { frame: F }, rampMs: 0 });
        assert.equal(info.applied?.frame, F, `${what}: the engine applied it at frame ${info.applied?.frame}, asked ${F}`);
        assert.ok(Math.abs(info.applied!.timeNs - (r.startNs + F * NS)) < 1, `applied at ${info.applied!.timeNs} ns, frame ${F} leaves the DAC at ${r.startNs + F * NS}`);
        await until(r, F + 10);
        const g = r.gains(F - 3, 6);
        for (let i = 0; i < 3; i++) assert.ok(Math.abs(g[i]! - expected) < 1e-4, `${what}: frame ${F - 3 + i} has gain ${g[i]}, expected ${expected} (before F = ${F})`);
        for (let i = 3; i < 6; i++) assert.ok(Math.abs(g[i]! - target) < 1e-4, `${what}: frame ${F - 3 + i} has gain ${g[i]}, expected ${target} (from F = ${F})`);
        console.log(`      ${what}: F = ${F} (${F % PERIOD} into its period): ${g[2]!.toFixed(6)} at F − 1, ${g[3]!.toFixed(6)} at F`);
        expected = target;
      }
    } finally {
      await r.close();
    }
  });

  for (const rampMs of [undefined, 0] as const) {
    const label = rampMs === 0 ? 'with the ramps off (negative control): one 40 dB step' : 'monotonic, no adjacent-sample step above 0.05 dB, complete within FIFO + one period + the ramp time';
    it(`SET_GAIN −40 dB → 0 dB: ${label}`, async () => {
      const r = await playDc(rampMs === undefined ? {} : { rampMs });
      try {
        await until(r, 3000);
        const down = await r.service.controls.set('sim.speaker.gain', -40);
        assert.equal(down.value, -40);
        await r.clock.sleepUntilNs(r.clock.nowNs() + 0.2e9);
        const requestNs = r.clock.nowNs();
        const from = Math.floor((requestNs - r.startNs) / NS);
        const up = await r.service.controls.set('sim.speaker.gain', 0);
        assert.equal(up.value, 0);
        if (rampMs === undefined) {
          // The register write landed when it was due (a virtual clock), and the answer says so.
          assert.ok(up.applied && up.applied.frame !== undefined, `applied: ${JSON.stringify(up.applied)}`);
          assert.equal(up.applied.timeNs, up.applied.scheduledNs);
        } else assert.equal(up.applied, undefined, 'no handoff with the ramps off');
        const span = 6000;
        await until(r, from + span);
        const g = r.gains(from, span);
        assert.ok(Math.abs(g[0]! - 0.01) < 2e-5, `−40 dB before the change: ${g[0]}`);
        assert.ok(Math.abs(g[span - 1]! - 1) < 1e-5, `0 dB after the change: ${g[span - 1]}`);
        let worst = 0, at = -1, monotonic = true, done = -1;
        for (let i = 1; i < span; i++) {
          const step = Math.abs(dB(g[i]!) - dB(g[i - 1]!));
          if (step > worst) { worst = step; at = from + i; }
          if (g[i]! < g[i - 1]! - 1e-9) monotonic = false;
          if (done < 0 && Math.abs(g[i]! - 1) < 1e-5) done = from + i;
        }
        if (rampMs === 0) {
          assert.ok(worst > 39.9 && worst < 40.1, `ramps off: the largest step is ${worst.toFixed(3)} dB, expected the whole 40 dB at once`);
          console.log(`      ramps off: one step of ${worst.toFixed(3)} dB at frame ${at}`);
          return;
        }
        assert.ok(monotonic, 'the per-sample gain is monotonic');
        assert.ok(worst <= 0.05, `the largest adjacent-sample step is ${worst.toFixed(4)} dB at frame ${at} (bound 0.05 dB)`);
        // The change is complete (0 dB at the output) within FIFO + one period + the ramp time of the request.
        const bound = r.fifoFrames + PERIOD + 2400;
        const took = done - from;
        assert.ok(took <= bound, `complete ${took} frames after the request, bound ${bound} (FIFO ${r.fifoFrames} + period ${PERIOD} + ramp 2400)`);
        console.log(`      −40 → 0 dB: largest step ${worst.toFixed(4)} dB, monotonic; complete ${took} frames (${(took / 48).toFixed(2)} ms) after SET_GAIN, bound ${bound} (${(bound / 48).toFixed(2)} ms)`);
      } finally {
        await r.close();
      }
    });
  }

  it('SET_GAIN 0 dB → −40 dB and mute → unmute ramp too: monotonic, no step above 0.05 dB (mute: no step above 1/2400 of full scale)', async () => {
    const r = await playDc();
    try {
      await until(r, 3000);
      let from = r.position();
      await r.service.controls.set('sim.speaker.gain', -40);
      await until(r, from + 6000);
      let g = r.gains(from, 6000);
      let worst = 0;
      for (let i = 1; i < g.length; i++) {
        assert.ok(g[i]! <= g[i - 1]! + 1e-9, `down: not monotonic at ${from + i}: ${Array.from(g.subarray(Math.max(0, i - 4), i + 4)).map((x) => x.toFixed(6)).join(' ')}; first change at ${from + g.findIndex((x) => x < 0.9999)}`);
        worst = Math.max(worst, Math.abs(dB(g[i]!) - dB(g[i - 1]!)));
      }
      assert.ok(worst <= 0.05, `down: largest step ${worst} dB`);
      assert.ok(Math.abs(g[5999]! - 0.01) < 2e-5);
      await r.service.controls.set('sim.speaker.gain', 0);
      await until(r, r.position() + 6000);
      from = r.position();
      await r.service.controls.set('sim.speaker.mute', true);
      await r.service.controls.set('sim.speaker.mute', false);
      await until(r, from + 20000);
      g = r.gains(from, 20000);
      let worstLin = 0;
      for (let i = 1; i < g.length; i++) worstLin = Math.max(worstLin, Math.abs(g[i]! - g[i - 1]!));
      assert.ok(g.some((x) => x === 0), 'muted for a while');
      assert.ok(Math.abs(g[19999]! - 1) < 1e-5, 'unmuted at 0 dB at the end');
      // A linear ramp over 2400 frames moves at most 1/2400 of the gain per sample.
      assert.ok(worstLin <= 1 / 2400 + 2 / 32767, `mute/unmute: largest per-sample gain step ${worstLin} (a 2400-frame linear ramp: 1/2400, plus 16-bit rounding)`);
    } finally {
      await r.close();
    }
  });
});

describe('timestamped changes through the control model: what is refused, and register writes at a time (sim board, virtual clock)', function () {
  this.timeout(60000);

  it('a frame stamp is for engine controls only; bad stamps, ramps and values are refused naming the field, and nothing changes', async () => {
    const r = await playDc();
    try {
      const bad: [string, unknown, { at?: unknown; rampMs?: unknown }, RegExp][] = [
        ['sim.speaker.gain', -6, { at: { frame: 100 } }, /a change at a stream frame is for engine controls/],
        ['sim.speaker.gain', -6, { rampMs: 10 }, /rampMs is for engine controls/],
        ['sim.speaker.trim', -6, { at: { frame: -1 } }, /at\.frame must be a stream frame position \(an integer ≥ 0\)/],
        ['sim.speaker.trim', -6, { at: { frame: 1.5 } }, /at\.frame must be/],
        ['sim.speaker.trim', -6, { at: { frame: 1, ns: 2 } }, /at must be \{ "frame": N \} or \{ "ns": T \}/],
        ['sim.speaker.trim', -6, { at: { ns: -5 } }, /at\.ns must be a CLOCK_MONOTONIC time/],
        ['sim.speaker.trim', -6, { at: 'soon' }, /at must be/],
        ['sim.speaker.trim', -6, { rampMs: 2000 }, /rampMs must be a number of ms from 0 to 1000/],
        ['sim.speaker.trim', -61, {}, /-60 \.\. 0|−60|range/],
        ['sim.speaker.trim', 3, {}, /range|-60 \.\. 0/],
      ];
      for (const [id, v, opts, re] of bad) {
        await assert.rejects(r.service.controls.set(id, v, opts as never), re, `${id} ${JSON.stringify(v)} ${JSON.stringify(opts)}`);
      }
      assert.equal((await r.service.controls.get('sim.speaker.trim')).value, 0, 'nothing changed');
      assert.equal((await r.service.controls.get('sim.speaker.gain')).value, 0, 'nothing changed');
    } finally {
      await r.close();
    }
  });

  it('a register control set at a time is written at that time on the virtual clock (applied = scheduled)', async () => {
    const r = await playDc();
    try {
      const T = r.clock.nowNs() + 37.5e6;
      const info = await r.service.controls.set('sim.sim-codec.dac-filter', 'slow', { at: { ns: T } });
      assert.equal(info.value, 'slow');
      assert.deepEqual(info.applied, { timeNs: T, scheduledNs: T });
      assert.ok(r.clock.nowNs() >= T, 'the answer comes once it is written');
    } finally {
      await r.close();
    }
  });
});

describe('a stream muted while it plays and unmuted while it is stopped plays again at its gain (sim board, virtual clock)', function () {
  this.timeout(60000);

  it('mute (the fade goes to 0), STOP, unmute (no stream plays: a register write), START: the output is back at unity after the start fade', async () => {
    const r = await playDc();
    try {
      await until(r, 3000);
      await r.service.controls.set('sim.speaker.mute', true);
      await until(r, r.position() + 4000);
      assert.equal(r.gains(r.position() - 500, 1)[0], 0, 'muted');
      assert.equal((await r.rb.stop()).result, STATUS.OK);
      await r.service.controls.set('sim.speaker.mute', false);
      const st = await r.rb.start();
      assert.equal(st.result, STATUS.OK);
      await r.clock.sleepUntilNs(st.startTimeNs + 0.2e9);
      r.rt.analog!.drain();
      const x = r.rt.analog!.render('speaker', st.startTimeNs + 0.1e9, 1, RATE, 2);
      assert.ok(Math.abs(x[0]! / LEVEL - 1) < 1e-4, `after the restart: gain ${x[0]! / LEVEL}, expected 1 (a fade left at 0 would be silence)`);
    } finally {
      await r.close();
    }
  });
});
