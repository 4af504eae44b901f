/**
 * The libasound side of the loopback-card HAL (src/hal/linux/alsa/loopback-card.ts) on the guest's
 * snd-aloop card "Loopback" (8 subdevices), against peers we did not write: aplay plays into a
 * cable and our ctl events and controls must follow it; amixer reads and writes the controls and
 * the user volume element. Every check has a negative control (an idle cable, the other device's
 * control, our own write, a removed element, a card that is not a loopback card).
 *
 * Timeouts here only end a wait for another process that failed: no check depends on them.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { AlsaLoopbackBackend } from '../../../src/hal/linux/alsa/loopback-card.ts';
import { AlsaControl } from '../../../src/hal/linux/alsa/control.ts';
import { LoopbackError, RATE_SHIFT_NEUTRAL, type LoopbackCard, type UserVolumeSpec } from '../../../src/hal/loopback.ts';
import { hilEnv } from '../env.ts';
import { runPeer } from './alsa-peers.ts';

const CARD = 'Loopback';
/** The cable aplay plays into: not 0, which the other loopback checks use. */
const SUB = 5;
/** A cable nobody touches (negative control). */
const IDLE = 6;
const VOLUME: UserVolumeSpec = { channels: 2, min: 0, max: 207, minCdb: -10350, stepCdb: 50 };

const amixer = (...args: string[]) => execFileSync('amixer', ['-c', CARD, ...args], { encoding: 'utf8' });
/** amixer's exit code and output, for commands expected to fail. */
const amixerStatus = (...args: string[]) => {
  const r = spawnSync('amixer', ['-c', CARD, ...args], { encoding: 'utf8' });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
};
const cableCtl = (name: string, device: number, sub: number) => `iface=PCM,name='${name}',device=${device},subdevice=${sub}`;
/** 'values=100500' of `amixer cget` → [100500]; on/off as 1/0. */
const cgetValues = (out: string) => /: values=([^\n]*)/.exec(out)![1]!.split(',').map((v) => (v === 'on' ? 1 : v === 'off' ? 0 : Number(v)));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, what: string, timeoutMs = 20000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('ALSA loopback card and user volume through libasound, against aplay and amixer (guest)', function () {
  this.timeout(120000);
  const env = hilEnv();
  const backend = new AlsaLoopbackBackend();
  let card: LoopbackCard | undefined;

  before(function () {
    if (!env.alsa.loopbackPlayback) this.skip(); // reason: no snd-aloop card in this environment (guest only)
    card = backend.open(CARD);
  });
  after(() => card?.close());

  it('opens the card: 8 cables, PCM names of devices 0 and 1', () => {
    assert.equal(card!.id, CARD);
    assert.equal(card!.subdevices, 8, 'snd-aloop default pcm_substreams');
    assert.equal(card!.playbackPcm(SUB), `hw:${CARD},0,${SUB}`);
    assert.equal(card!.capturePcm(SUB), `hw:${CARD},1,${SUB}`);
  });

  it(`follows aplay on cable ${SUB}: events at start and end, active/rate/channels/format (cable ${IDLE} idle)`, async () => {
    const c = card!;
    c.changed(); // what queued before this test
    assert.deepEqual(c.changed(), [], 'nothing changes while nobody plays');
    const atStart = new Set<number>();
    const play = runPeer('aplay', ['-q', '-D', c.playbackPcm(SUB), '-r', '44100', '-f', 'S32_LE', '-c', '2', '-t', 'raw', '-d', '3', '/dev/zero'], 60000);
    try {
      await until(() => {
        for (const n of c.changed()) atStart.add(n);
        return c.cable(SUB).active;
      }, `cable ${SUB} active`);
      await sleep(200); // the notify follows the state change inside the kernel's trigger
      for (const n of c.changed()) atStart.add(n);
      const playing = c.cable(SUB);
      assert.deepEqual(playing, { subdevice: SUB, active: true, rate: 44100, channels: 2, format: 'S32_LE', formatCode: 10 });
      // amixer sees the same on device 1 (the cable's controls), not on device 0 (the other direction).
      assert.deepEqual(cgetValues(amixer('cget', cableCtl('PCM Slave Active', 1, SUB))), [1]);
      assert.deepEqual(cgetValues(amixer('cget', cableCtl('PCM Slave Active', 0, SUB))), [0], 'device 0 describes the other direction');
      assert.equal(c.cable(IDLE).active, false, 'an idle cable is not active');
      assert.ok(atStart.has(SUB), `changed() reported cable ${SUB} at the start (got ${[...atStart].join(',')})`);
    } finally {
      const code = await play.done;
      assert.equal(code, 0, `aplay failed: ${play.stderr()}`);
    }
    const atEnd = new Set<number>();
    await until(() => {
      for (const n of c.changed()) atEnd.add(n);
      return atEnd.has(SUB);
    }, `an event of cable ${SUB} after aplay ended`);
    assert.equal(c.cable(SUB).active, false, 'inactive after aplay ended');
    assert.ok(!atStart.has(IDLE) && !atEnd.has(IDLE), `no event for the idle cable ${IDLE}`);
    assert.deepEqual([...atStart, ...atEnd].filter((n) => n !== SUB), [], 'events only for the cable that played');
    console.log(`      cable ${SUB}: ${JSON.stringify(c.cable(SUB))} after; events at start and end`);
  });

  it(`sets the rate shift of cable ${SUB} on device 1 only, and restores it`, () => {
    const c = card!;
    assert.equal(c.rateShift(SUB), RATE_SHIFT_NEUTRAL);
    try {
      c.setRateShift(SUB, 100500);
      assert.equal(c.rateShift(SUB), 100500);
      assert.deepEqual(cgetValues(amixer('cget', cableCtl('PCM Rate Shift 100000', 1, SUB))), [100500], 'amixer reads it on device 1');
      assert.deepEqual(cgetValues(amixer('cget', cableCtl('PCM Rate Shift 100000', 0, SUB))), [RATE_SHIFT_NEUTRAL], 'device 0 untouched');
      assert.equal(c.rateShift(IDLE), RATE_SHIFT_NEUTRAL, 'another cable untouched');
      assert.deepEqual(c.changed(), [], 'our own rate-shift write is not a cable change');
    } finally {
      c.setRateShift(SUB, RATE_SHIFT_NEUTRAL);
    }
    assert.equal(c.rateShift(SUB), RATE_SHIFT_NEUTRAL);
    assert.deepEqual(cgetValues(amixer('cget', cableCtl('PCM Rate Shift 100000', 1, SUB))), [RATE_SHIFT_NEUTRAL]);
  });

  it('adds a user volume that amixer shows with its dB range, reports amixer\'s writes and not its own, reuses and removes it', () => {
    const numidOf = () => {
      const ctl = AlsaControl.open(`hw:${CARD}`);
      try {
        return ctl.findId({ iface: 'MIXER', name: 'PCM Playback Volume' });
      } finally {
        ctl.close();
      }
    };
    // A user element outlives its maker: one a service left (serve's ALSA way in adds this very
    // element, tests/hil/guest/alsa-in.hil.ts) is taken away first.
    const left = numidOf();
    if (left !== undefined) {
      const ctl = AlsaControl.open(`hw:${CARD}`);
      try {
        ctl.removeUser({ iface: 'MIXER', name: 'PCM Playback Volume' });
      } finally {
        ctl.close();
      }
    }
    // Negative control first: the card has no volume of its own (aloop.c), so what amixer finds below is ours.
    assert.notEqual(amixerStatus('sget', 'PCM').code, 0, 'no PCM element before');
    const vol = backend.userVolume(CARD, VOLUME);
    const watcher = AlsaControl.open(`hw:${CARD}`);
    try {
      watcher.subscribe();
      assert.equal(vol.changed(), false, 'the events of our own add are not a change');
      const sget = amixer('sget', 'PCM');
      assert.match(sget, /Limits: Playback 0 - 207/);
      assert.match(sget, /Front Left: Playback 0 \[0%\] \[-103\.50dB\]/, 'starts at min');
      assert.match(amixer('cget', "iface=MIXER,name='PCM Playback Volume'"), /dBscale-min=-103\.50dB,step=0\.50dB,mute=0/);

      vol.write([207, 207]);
      assert.match(amixer('sget', 'PCM'), /Front Right: Playback 207 \[100%\] \[0\.00dB\]/, 'amixer sees our write');
      const numid = numidOf()!;
      assert.ok(watcher.readEvents().includes(numid), 'our write did queue an event (the echo the volume must ignore)');
      assert.equal(vol.changed(), false, 'our own write is not a change');

      amixer('sset', 'PCM', '50%');
      const theirs = cgetValues(amixer('cget', `numid=${numid}`));
      assert.notDeepEqual(theirs, [207, 207], 'amixer changed the value');
      assert.equal(vol.changed(), true, 'amixer\'s write is a change');
      assert.deepEqual(vol.read(), theirs);
      assert.equal(vol.changed(), false, 'reported once');

      // Same spec again: the element is reused (no EBUSY), its value kept.
      const again = backend.userVolume(CARD, VOLUME);
      try {
        assert.deepEqual(again.read(), theirs, 'reused with its value');
        assert.equal(numidOf(), numid, 'the same element');
      } finally {
        again.close();
      }
      // Another range: replaced.
      const other = backend.userVolume(CARD, { channels: 2, min: 0, max: 100, minCdb: -5000, stepCdb: 50 });
      try {
        assert.match(amixer('sget', 'PCM'), /Limits: Playback 0 - 100/);
        assert.match(amixer('cget', "iface=MIXER,name='PCM Playback Volume'"), /dBscale-min=-50\.00dB,step=0\.50dB/);
        other.remove();
      } finally {
        other.close();
      }
      assert.notEqual(amixerStatus('sget', 'PCM').code, 0, 'removed');
      assert.equal(numidOf(), undefined);
    } finally {
      watcher.close();
      vol.close();
      if (numidOf() !== undefined) {
        const ctl = AlsaControl.open(`hw:${CARD}`);
        try {
          ctl.removeUser({ iface: 'MIXER', name: 'PCM Playback Volume' });
        } finally {
          ctl.close();
        }
      }
    }
  });

  it('remove() takes the element away for amixer', () => {
    const vol = backend.userVolume(CARD, VOLUME);
    try {
      assert.match(amixer('sget', 'PCM'), /Limits: Playback 0 - 207/);
      vol.remove();
      const r = amixerStatus('sget', 'PCM');
      assert.notEqual(r.code, 0);
      assert.match(r.out, /Unable to find simple control 'PCM',0/);
    } finally {
      vol.close();
    }
  });

  it('refuses a missing card and a card that is not a loopback card, naming modprobe', () => {
    assert.throws(() => backend.open('NoSuchCard'), (e: unknown) => e instanceof LoopbackError && /modprobe snd-aloop/.test(e.message) && e.card === 'NoSuchCard');
    assert.throws(() => backend.userVolume('NoSuchCard', VOLUME), (e: unknown) => e instanceof LoopbackError && /modprobe snd-aloop/.test(e.message));
    if (env.alsa.dummy) {
      assert.throws(() => backend.open('Dummy'), (e: unknown) => e instanceof LoopbackError && /no 'PCM Slave Active' controls/.test(e.message));
    }
  });

  it('polls without allocating: changed() of both with nothing queued, rateShift() and setRateShift()', function () {
    // Measured in a child with --expose-gc, as tests/unit/alsa-alloc.test.ts does; the control
    // closure allocates on purpose and must be seen.
    const mod = fileURLToPath(new URL('../../../src/hal/linux/alsa/loopback-card.ts', import.meta.url));
    const code = `
      const { AlsaLoopbackBackend } = await import(process.env.MOD);
      const b = new AlsaLoopbackBackend();
      const card = b.open(${JSON.stringify(CARD)});
      const vol = b.userVolume(${JSON.stringify(CARD)}, ${JSON.stringify(VOLUME)});
      card.changed(); vol.changed();
      // Each op is warmed up inside the measuring function, the least of three rounds counts, and
      // the whole set is measured twice, the first pass discarded: the first ops measured in a
      // process carry one-off costs (the measuring loop re-optimised for a new callee, callees
      // going polymorphic) that showed as 30-130 bytes a call on the host and in the guest and
      // vanish on the second pass; a per-call cost recurs in both.
      function bytesPerCall(fn, n) {
        for (let i = 0; i < 2 * n; i++) fn();
        let least = Infinity;
        for (let round = 0; round < 3; round++) {
          gc();
          const before = process.memoryUsage().heapUsed;
          for (let i = 0; i < n; i++) fn();
          least = Math.min(least, Math.max(0, process.memoryUsage().heapUsed - before) / n);
        }
        return least;
      }
      const N = 10000;
      let flip = false;
      const measure = () => ({
        rateShift: bytesPerCall(() => card.rateShift(${IDLE}), N),
        setRateShift: bytesPerCall(() => card.setRateShift(${IDLE}, 100000), N),
        cardChanged: bytesPerCall(() => card.changed(), N),
        volumeChanged: bytesPerCall(() => vol.changed(), N),
        pollBoth: bytesPerCall(() => { card.changed(); vol.changed(); }, N),
        // Our own writes of another value queue an event each time: changed() must still not allocate.
        writeAndPoll: bytesPerCall(() => { card.setRateShift(${IDLE}, (flip = !flip) ? 100010 : 100000); card.changed(); vol.changed(); }, N),
        control: bytesPerCall(() => { globalThis.sink = [card.rateShift(${IDLE})]; }, N),
      });
      const first = measure();
      const r = measure();
      r.firstPass = first;
      card.setRateShift(${IDLE}, 100000);
      vol.remove(); vol.close(); card.close();
      console.log(JSON.stringify(r));`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--no-concurrent-recompilation', '--import', 'tsx', '--input-type=module', '-e', code], {
      encoding: 'utf8', env: { ...process.env, MOD: mod }, cwd: fileURLToPath(new URL('../../../', import.meta.url)),
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
    console.log(`      bytes a call: ${JSON.stringify(r)}`);
    assert.ok(r.control! >= 16, `the allocating control was not seen (${r.control} bytes a call)`);
    for (const op of ['rateShift', 'setRateShift', 'cardChanged', 'volumeChanged', 'pollBoth', 'writeAndPoll']) assert.ok(r[op]! < 4, `${op}: ${r[op]} bytes a call`);
  });
});
