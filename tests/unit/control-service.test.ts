/**
 * The control model in the stream service (docs/CONTROL.md), heard at the analog output:
 *
 * - `sbc-audio gain STREAM -20` (the control channel) while `play` owns the stream changes the level
 *   on the monitor by the gain (−20 dB ± 0.1 dB), GET_GAIN (`ls`) shows it, and the owner gets
 *   EXT_GAIN_CHANGED;
 * - IDLE / ACTIVE: a gain set while nothing plays is the gain of the next START;
 * - restart: values set before a restart are in force after it (registers and monitor level);
 *   a corrupt state file gives one warning and the defaults; the file is written at most once a
 *   second under a stream of changes;
 * - the channel: bad requests answered with the field, subscribers told of every change.
 *
 * Expected levels are literals: a 1 kHz tone at −6 dBFS through a gain of G dB is −6 + G dBFS on
 * the monitor (the sim-codec's volume: 0 dB at code 0x00, −0.5 dB per code; codecs/sim-codec/model.ts).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { CliIO } from '../../src/cli/command.ts';
import { gainCommand } from '../../src/cli/commands/gain.ts';
import { lsCommand } from '../../src/cli/commands/ls.ts';
import { serveBoard, type ServedBoard } from '../../src/cli/wiring.ts';
import { playSamples, recordSamples, toneSamples } from '../../src/stream/player.ts';
import { dB, loudSpan, peak } from './helpers/levels.ts';

const RATE = 48000;
const CH = 2;

function captureIO(): CliIO & { lines: string[]; errors: string[] } {
  const lines: string[] = [];
  const errors: string[] = [];
  return { lines, errors, isTTY: false, out: (t) => { lines.push(...t.replace(/\n$/, '').split('\n')); }, err: (t) => { errors.push(t); } };
}

/** One connection to the control channel: requests answered in order, events collected. */
async function channel(socketPath: string): Promise<{ call(req: object): Promise<Record<string, unknown>>; events: Record<string, unknown>[]; close(): void }> {
  const sock = net.connect(socketPath);
  await new Promise<void>((resolve, reject) => { sock.once('connect', resolve); sock.once('error', reject); });
  sock.setEncoding('utf8');
  const waiting: ((m: Record<string, unknown>) => void)[] = [];
  const events: Record<string, unknown>[] = [];
  let buf = '';
  sock.on('data', (d: string) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      const m = JSON.parse(buf.slice(0, i)) as Record<string, unknown>;
      buf = buf.slice(i + 1);
      if ('event' in m) events.push(m);
      else waiting.shift()?.(m);
    }
  });
  let n = 0;
  return {
    events,
    call: (req) => new Promise((resolve) => { waiting.push(resolve); sock.write(`${JSON.stringify({ id: ++n, ...req })}\n`); }),
    close: () => sock.destroy(),
  };
}

/** Plays a 1 kHz tone at −6 dBFS on sim.speaker while the monitor records; `during` runs once the player owns the stream. */
async function playAndListen(served: ServedBoard, runtimeDir: string, seconds: number, during?: (stream: import('../../src/stream/client.ts').StreamClient) => Promise<void>) {
  const endpoint = path.join(runtimeDir, 'audio-output', 'sim.speaker');
  const monitor = path.join(runtimeDir, 'audio-input', 'sim.speaker.monitor');
  let monitorStartNs = 0;
  const recording = recordSamples({ endpoint: monitor, rate: RATE, channels: CH, onOpen: ({ startTimeNs }) => { monitorStartNs = startTimeNs; } }, Math.round(RATE * (seconds + 2)));
  await new Promise((r) => setTimeout(r, 250)); // the monitor runs before the player starts
  let task: Promise<void> | undefined;
  await playSamples({ endpoint, rate: RATE, channels: CH, onOpen: ({ stream }) => { task = during?.(stream); } }, toneSamples(1000, seconds, RATE, CH, -6));
  await task;
  const rec = await recording;
  return { rec, monitorStartNs: () => monitorStartNs };
}

/** The monitor frame of a CLOCK_MONOTONIC time (the monitor's 50 ms: docs/PROTOCOL.md, "Monitor endpoints"). */
const frameAt = (ns: number, monitorStartNs: number) => Math.round(((ns - monitorStartNs + 50e6) * RATE) / 1e9);

describe('controls in the stream service (docs/CONTROL.md), heard on the monitor', function () {
  this.timeout(60000);
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(path.join(tmpdir(), 'sbc-ctl-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('`sbc-audio gain sim.speaker -20` while play owns the stream: −20 dB on the monitor, GET_GAIN (ls) shows it, the owner gets EXT_GAIN_CHANGED', async () => {
    const runtimeDir = path.join(dir, 'run');
    const served = await serveBoard('sim', { runtimeDir });
    const ctl = await channel(served.service.controlPath);
    try {
      assert.deepEqual((await ctl.call({ cmd: 'set', control: 'sim.speaker.gain', value: 0 })).ok, true);
      const changes: number[] = [];
      let setAnsweredNs = 0;
      const { rec, monitorStartNs } = await playAndListen(served, runtimeDir, 2, async (stream) => {
        stream.on('gain', (g: { curGain: number }) => changes.push(g.curGain));
        assert.equal((await stream.gainNotify(true)).curGain, 0, 'EXT_GAIN_NOTIFY answers the gain in force');
        await new Promise((r) => setTimeout(r, 600));
        // `sbc-audio gain sim.speaker -20`, as a user types it (through the control channel).
        const gio = captureIO();
        assert.equal(await gainCommand.run(['sim.speaker', '-20', '--runtime-dir', runtimeDir], gio), 0, gio.errors.join(''));
        setAnsweredNs = Number(process.hrtime.bigint());
        assert.deepEqual(gio.lines, ['sim.speaker: -20 dB']);
        // ls, an observer: the stream's gain as GET_GAIN answers it.
        const io = captureIO();
        assert.equal(await lsCommand.run(['--runtime-dir', runtimeDir, '--json'], io), 0);
        const listed = (JSON.parse(io.lines.join('\n')) as { streams: { name: string; gain: { curGain: number } }[] }).streams.find((s) => s.name === 'sim.speaker')!;
        assert.equal(listed.gain.curGain, -20);
      });
      assert.deepEqual(changes, [-20], 'the owner heard EXT_GAIN_CHANGED once, with −20 dB');
      const span = loudSpan(rec, CH, 0.01);
      assert.ok(span, 'the monitor stayed silent while the tone played');
      const [first, last] = span;
      const a0 = first + Math.round(RATE * 0.05), a1 = first + Math.round(RATE * 0.3);
      const b0 = Math.max(frameAt(setAnsweredNs, monitorStartNs()) + Math.round(RATE * 0.05), a1), b1 = last - Math.round(RATE * 0.05);
      assert.ok(b1 - b0 >= RATE * 0.1, `only ${((b1 - b0) / RATE).toFixed(3)} s of the tone after the change`);
      const before = dB(peak(rec, CH, a0, a1)), after = dB(peak(rec, CH, b0, b1));
      assert.ok(Math.abs(before - -6) <= 0.1, `${before.toFixed(3)} dBFS at 0 dB gain, expected −6 ± 0.1`);
      assert.ok(Math.abs(after - before - -20) <= 0.1, `the level changed by ${(after - before).toFixed(3)} dB, expected −20 ± 0.1`);
    } finally {
      ctl.close();
      await served.close();
    }
  });

  it('IDLE / ACTIVE: a gain set while no stream runs is in force at the next START (and a negative control at 0 dB)', async () => {
    const runtimeDir = path.join(dir, 'run');
    const served = await serveBoard('sim', { runtimeDir });
    const ctl = await channel(served.service.controlPath);
    try {
      for (const gain of [-20, 0]) {
        const a = await ctl.call({ cmd: 'set', control: 'sim.speaker.gain', value: gain });
        assert.equal((a.control as { state: string }).state, 'idle', 'nothing plays: the stream is IDLE');
        let during = '';
        const { rec } = await playAndListen(served, runtimeDir, 1, async () => {
          await new Promise((r) => setTimeout(r, 300));
          during = ((await ctl.call({ cmd: 'get', control: 'sim.speaker.gain' })).control as { state: string }).state;
        });
        assert.equal(during, 'active', 'while the ring buffer runs the stream is ACTIVE');
        const span = loudSpan(rec, CH, 0.001)!;
        assert.ok(span, 'the monitor stayed silent');
        // From the first loud frame on: the gain is there from START, not after it.
        const level = dB(peak(rec, CH, span[0], span[0] + Math.round(RATE * 0.2)));
        assert.ok(Math.abs(level - (-6 + gain)) <= 0.1, `${level.toFixed(3)} dBFS from START with ${gain} dB set while IDLE, expected ${-6 + gain} ± 0.1`);
      }
    } finally {
      ctl.close();
      await served.close();
    }
  });

  it('restart: values set before it are in force after it (registers and monitor level); without the state file, the board\'s defaults', async () => {
    const runtimeDir = path.join(dir, 'run');
    const stateFile = path.join(dir, 'state', 'state.json');
    let served = await serveBoard('sim', { runtimeDir, stateFile });
    let ctl = await channel(served.service.controlPath);
    assert.equal((await ctl.call({ cmd: 'set', control: 'sim.speaker.gain', value: -12 })).ok, true);
    assert.equal((await ctl.call({ cmd: 'set', control: 'sim.sim-codec.dac-filter', value: 'slow' })).ok, true);
    ctl.close();
    await served.close(); // the last change is written on the way out
    const saved = JSON.parse(readFileSync(stateFile, 'utf8')) as { format: string; version: number; boards: Record<string, { controls: Record<string, unknown> }> };
    assert.equal(saved.format, 'sbc-audio-state');
    assert.equal(saved.version, 1);
    assert.equal(saved.boards.sim!.controls['sim.speaker.gain'], -12);

    served = await serveBoard('sim', { runtimeDir, stateFile });
    ctl = await channel(served.service.controlPath);
    try {
      assert.equal(((await ctl.call({ cmd: 'get', control: 'sim.speaker.gain' })).control as { value: number }).value, -12);
      assert.equal(((await ctl.call({ cmd: 'get', control: 'sim.sim-codec.dac-filter' })).control as { value: string }).value, 'slow');
      // The chip: VOL_L = VOL_R = 24 (−12 dB at −0.5 dB per code), DAC_CTRL bits [2:1] = 1 (slow).
      const regs = await served.service.simControl!.regs();
      const reg = (name: string) => regs.registers.find((r) => r.name === name)!.read;
      assert.deepEqual([reg('VOL_L'), reg('VOL_R'), (reg('DAC_CTRL')! >> 1) & 3], [24, 24, 1]);
      const { rec } = await playAndListen(served, runtimeDir, 1);
      const span = loudSpan(rec, CH, 0.001)!;
      const level = dB(peak(rec, CH, span[0], span[0] + Math.round(RATE * 0.2)));
      assert.ok(Math.abs(level - -18) <= 0.1, `${level.toFixed(3)} dBFS after the restart, expected −18 ± 0.1 (−6 dBFS at −12 dB)`);
    } finally {
      ctl.close();
      await served.close();
    }
    // Negative control: the same restart without the state file starts at the board's default (−20 dB).
    served = await serveBoard('sim', { runtimeDir });
    try {
      assert.equal((await served.service.controls.get('sim.speaker.gain')).value, -20);
    } finally {
      await served.close();
    }
  });

  it('a corrupt state file: one warning naming it, the defaults apply, the service runs; the bad file is kept aside', async () => {
    const runtimeDir = path.join(dir, 'run');
    const stateFile = path.join(dir, 'state.json');
    writeFileSync(stateFile, '{"format": "sbc-audio-state", "version": 1, "boards": {');
    const log: string[] = [];
    const served = await serveBoard('sim', { runtimeDir, stateFile, log: (l) => log.push(l) });
    try {
      const warnings = log.filter((l) => l.includes(stateFile));
      assert.equal(warnings.length, 1, `one warning naming the file: ${JSON.stringify(log)}`);
      assert.match(warnings[0]!, /not JSON/);
      assert.equal((await served.service.controls.get('sim.speaker.gain')).value, -20, 'the board\'s default');
      await served.service.controls.set('sim.speaker.gain', -3);
    } finally {
      await served.close();
    }
    const aside = readdirSync(dir).filter((n) => n.startsWith('state.json.bad-'));
    assert.equal(aside.length, 1, 'the bad file moved aside');
    assert.equal(readFileSync(path.join(dir, aside[0]!), 'utf8'), '{"format": "sbc-audio-state", "version": 1, "boards": {');
    assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as { boards: { sim: { controls: Record<string, unknown> } } }).boards.sim.controls['sim.speaker.gain'], -3);
  });

  it('the state file is written at most once a second under a stream of changes, and holds the last one', async () => {
    const runtimeDir = path.join(dir, 'run');
    const stateFile = path.join(dir, 'state.json');
    const served = await serveBoard('sim', { runtimeDir, stateFile });
    const ctl = await channel(served.service.controlPath);
    const mtimes = new Set<number>();
    const t0 = process.hrtime.bigint();
    let last = 0;
    try {
      // Changes for 2.5 s (one every few ms): long enough for writes to happen, and to count them.
      for (let i = 0; Number(process.hrtime.bigint() - t0) < 2.5e9; i++) {
        last = 0 - (i % 100) * 0.5; // +0 at i = 0, not −0 (JSON writes −0 as 0, which strict equality tells apart)
        await ctl.call({ cmd: 'set', control: 'sim.speaker.gain', value: last });
        if (existsSync(stateFile)) mtimes.add(statSync(stateFile).mtimeMs);
        await new Promise((r) => setTimeout(r, 2));
      }
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      const writes = served.service.stateWrites!();
      // The bound comes from the rule, not the machine's speed: a slower machine writes less often, never more.
      assert.ok(writes <= Math.floor(seconds) + 1, `${writes} writes in ${seconds.toFixed(2)} s of changes (at most one a second)`);
      assert.ok(writes >= 1 && mtimes.size >= 1, 'the changes were written while they went on');
    } finally {
      ctl.close();
      await served.close();
    }
    assert.equal((JSON.parse(readFileSync(stateFile, 'utf8')) as { boards: { sim: { controls: Record<string, unknown> } } }).boards.sim.controls['sim.speaker.gain'], last);
  });

  it('the headphone-mutes-speaker policy: the amplifier line is off while the jack is in, on again when it is out; off, the jack changes nothing', async () => {
    const runtimeDir = path.join(dir, 'run');
    const served = await serveBoard('sim', { runtimeDir });
    const { controls } = served.service;
    const amp = async () => (await controls.get('sim.board.amp-enable')).value;
    /** The amplifier line once it reads `want` (a hang guard of 2 s, not a timing bound), else what it reads then. */
    const ampBecomes = async (want: boolean) => {
      for (let i = 0; i < 200 && (await amp()) !== want; i++) await new Promise((r) => setTimeout(r, 10));
      return amp();
    };
    const jack = async (plugged: boolean) => {
      served.runtime.setSimJack(plugged);
      // The jack line is debounced (board/sim.json: 20 ms): wait for the model to hear the edge.
      for (let i = 0; i < 200 && (await controls.get('sim.board.jack-detect')).value !== plugged; i++) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < 20; i++) await new Promise((r) => setTimeout(r, 5)); // the policy's power change runs after the edge
    };
    try {
      await served.runtime.power.powerUp(); // a command that owns the run: the amplifier on
      assert.equal(await amp(), true);
      // Off (the default): the jack changes nothing on the amplifier.
      await jack(true);
      assert.equal(await amp(), true, 'policy off: the amplifier stays on with the jack in');
      await jack(false);
      await controls.set('sim.board.headphone-mutes-speaker', 'on');
      assert.equal(await amp(), true, 'policy on, jack out: the amplifier stays on');
      await jack(true);
      assert.equal(await ampBecomes(false), false, 'policy on, jack in: the amplifier off');
      await jack(false);
      assert.equal(await ampBecomes(true), true, 'policy on, jack out again: the amplifier on');
    } finally {
      await served.close();
    }
  });

  it('the channel: bad requests are answered with the field, nothing changes; subscribers hear every change, whoever made it', async () => {
    const runtimeDir = path.join(dir, 'run');
    const served = await serveBoard('sim', { runtimeDir });
    const a = await channel(served.service.controlPath);
    const b = await channel(served.service.controlPath);
    try {
      assert.equal((statSync(served.service.controlPath).mode & 0o777).toString(8), '660');
      const refused = [
        [{ cmd: 'set', control: 'sim.speaker.gain', value: 10 }, /-127 \.\. 0 dB/],
        [{ cmd: 'set', control: 'sim.speaker.gain', value: 'loud' }, /not a gain/],
        [{ cmd: 'set', control: 'sim.sim-codec.dac-filter', value: 'steep' }, /sharp, slow, low-latency/],
        [{ cmd: 'set', control: 'sim.board.amp-enable', value: 'on' }, /cannot be set/],
        [{ cmd: 'set', control: 'sim.nothing', value: 1 }, /no control "sim.nothing"/],
        [{ cmd: 'set', control: 'sim.speaker.gain' }, /value/],
        [{ cmd: 'frobnicate' }, /cmd: expected one of/],
        [{ cmd: 'get', control: 'sim.speaker.gain', extra: 1 }, /unknown field "extra"/],
      ] as const;
      for (const [req, re] of refused) {
        const r = await a.call(req);
        assert.equal(r.ok, false, JSON.stringify(req));
        assert.match(String(r.error), re);
      }
      assert.equal((await served.service.controls.get('sim.speaker.gain')).value, -20, 'nothing changed');
      assert.equal((await b.call({ cmd: 'subscribe' })).ok, true);
      await a.call({ cmd: 'set', control: 'sim.speaker.gain', value: '+3dB' });
      await a.call({ cmd: 'set', control: 'sim.sim-codec.dac-playback-switch', value: 'off' });
      served.runtime.setSimJack(true);
      for (let i = 0; i < 100 && !b.events.some((e) => (e.control as { id: string }).id === 'sim.board.jack-detect'); i++) await new Promise((r) => setTimeout(r, 20));
      const seen = b.events.map((e) => { const c = e.control as { id: string; value: unknown }; return `${c.id}=${JSON.stringify(c.value)}`; });
      for (const want of ['sim.speaker.gain=-17', 'sim.headphone.gain=-17', 'sim.sim-codec.digital-playback-volume=-17', 'sim.sim-codec.dac-playback-switch=false', 'sim.board.jack-detect=true']) {
        assert.ok(seen.includes(want), `${want} among the events: ${seen.join(', ')}`);
      }
      assert.equal(a.events.length, 0, 'a connection that did not subscribe gets no events');
    } finally {
      a.close();
      b.close();
      await served.close();
    }
  });
});
