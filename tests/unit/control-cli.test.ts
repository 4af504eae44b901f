/**
 * The control channel from the command line (docs/CONTROL.md): `sbc-audio ctl`, `gain`,
 * `play --volume` and `info`, run in-process through main() against services started in-process
 * (each on its own temporary runtime directory), and the ControlClient under them.
 *
 * The expected controls are written here from the parts' descriptions (codecs/<part>/description.ts:
 * each volume's dB range from its scale, by hand) and the board files (streams, GPIO roles,
 * vendors), never read from the code under test. A volume's percent mapping is the top 60 dB of
 * its range (docs/CONTROL.md, "Metadata"), its whole range when it spans less.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadBoard } from '../../src/board/load.ts';
import { type CliIO, UsageError, parseOptions } from '../../src/cli/command.ts';
import { CONTROL_OPTIONS, parseWithNegativeValues, watchControls } from '../../src/cli/commands/ctl.ts';
import { main } from '../../src/cli/main.ts';
import { type ServedBoard, serveBoard } from '../../src/cli/wiring.ts';
import { ControlClient, ControlRequestError, findControlChannel } from '../../src/control/client.ts';
import type { ComponentDescriptor, ControlInfo, ControlListing } from '../../src/control/types.ts';
import { StreamClient } from '../../src/stream/client.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PKG = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string; license: string };

/** An io that records lines and can wait for one. */
function captureIO() {
  const out: string[] = [];
  const err: string[] = [];
  let wake = () => {};
  const io: CliIO & { out: (t: string) => void } = {
    isTTY: false,
    out: (t) => { out.push(...t.replace(/\n$/, '').split('\n')); wake(); },
    err: (t) => { err.push(...t.replace(/\n$/, '').split('\n')); wake(); },
  };
  const waitFor = (where: string[], re: RegExp, ms = 10000) => new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no line matching ${re}; got:\n${where.join('\n')}`)), ms);
    const check = () => {
      const l = where.find((x) => re.test(x));
      if (l !== undefined) { clearTimeout(timer); resolve(l); }
    };
    const prev = wake;
    wake = () => { prev(); check(); };
    check();
  });
  return { io, out, err, waitOut: (re: RegExp) => waitFor(out, re), waitErr: (re: RegExp) => waitFor(err, re) };
}

/** `sbc-audio …` in this process. */
async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIO();
  const code = await main(args, c.io);
  return { code, out: c.out.join('\n'), err: c.err.join('\n') };
}

async function cliJson<T>(args: string[]): Promise<T> {
  const r = await cli([...args, '--json']);
  assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
  return JSON.parse(r.out) as T;
}

// ---------------------------------------------------------------------------------------------
// What each part's description gives (computed by hand from its scale) and each board file.

interface Vol { slug: string; kind: 'volume'; dir: 'output' | 'input'; range: [number, number, number]; percent: [number, number]; main?: boolean; mute?: boolean }
interface Named { slug: string; kind: 'switch' | 'enum'; values: string[] }
type PartControl = Vol | Named;

const PARTS: Record<string, { name: string; vendor: string; datasheet: string; controls: PartControl[] }> = {
  // codes 0x00..0xFE: 0 dB down by 0.5 dB a code, to -127 dB at 0xFE; 0xFF mutes.
  'sim-codec': {
    name: 'Simulated stand-in codec', vendor: 'sbc-audio (simulation)', datasheet: 'codecs/sim-codec/model.ts header (stand-in part, no datasheet)',
    controls: [
      { slug: 'digital-playback-volume', kind: 'volume', dir: 'output', range: [-127, 0, 0.5], percent: [-60, 0], main: true, mute: true },
      { slug: 'dac-playback-switch', kind: 'switch', values: ['off', 'on'] },
      { slug: 'dac-filter', kind: 'enum', values: ['sharp', 'slow', 'low-latency'] },
    ],
  },
  // 0x00 = +24 dB, 0.5 dB a code down to 0xFE = 24 - 127 = -103 dB; 0xFF mutes.
  pcm5122: {
    name: 'PCM5122 stereo DAC', vendor: 'Texas Instruments', datasheet: 'TI PCM5121/PCM5122 datasheet ZHCSAC2C (figures via codecs/pcm5122/FACTS.md)',
    controls: [
      { slug: 'digital-playback-volume', kind: 'volume', dir: 'output', range: [-103, 24, 0.5], percent: [-36, 24], main: true, mute: true },
      { slug: 'dsp-program', kind: 'enum', values: ['normal', 'low-latency', 'high-attenuation', 'fixed-flow', 'asymmetric'] },
    ],
  },
  pcm5102a: { name: 'PCM5102A stereo DAC (pin-controlled)', vendor: 'Texas Instruments', datasheet: 'TI PCM510xA datasheet (figures via codecs/pcm5102a/FACTS.md)', controls: [] },
  max98357a: {
    name: 'MAX98357A I2S class-D amplifier', vendor: 'Maxim Integrated (Analog Devices)',
    datasheet: 'Maxim MAX98357A/MAX98357B datasheet (figures via codecs/max98357a/FACTS.md)', controls: [],
  },
  tlv320aic3104: {
    name: 'TLV320AIC3104 stereo codec', vendor: 'Texas Instruments', datasheet: 'TI TLV320AIC3104 datasheet (figures via codecs/tlv320aic3104/FACTS.md)',
    controls: [
      // 0x00..0x7F: 0 to -63.5 dB; a mute bit beside it.
      { slug: 'digital-playback-volume', kind: 'volume', dir: 'output', range: [-63.5, 0, 0.5], percent: [-60, 0], main: true, mute: true },
      // Only codes 0 (0 dB) and 9 (9 dB) are known.
      { slug: 'headphone-playback-volume', kind: 'volume', dir: 'output', range: [0, 9, 9], percent: [0, 9] },
      // 0x00..0x77: 0 to 59.5 dB; no mute.
      { slug: 'pga-capture-volume', kind: 'volume', dir: 'input', range: [0, 59.5, 0.5], percent: [0, 59.5] },
    ],
  },
  cs4271: {
    name: 'CS4271 stereo codec', vendor: 'Cirrus Logic', datasheet: 'Cirrus Logic CS4271 datasheet (figures via codecs/cs4271/FACTS.md)',
    // 0..127: 0 to -127 dB by 1 dB; a mute bit.
    controls: [{ slug: 'digital-playback-volume', kind: 'volume', dir: 'output', range: [-127, 0, 1], percent: [-60, 0], main: true, mute: true }],
  },
  sgtl5000: {
    name: 'SGTL5000 stereo codec', vendor: 'NXP (Freescale)', datasheet: 'NXP SGTL5000 datasheet (figures via codecs/sgtl5000/FACTS.md)',
    controls: [
      // 0x3C = 0 dB to 0xF0 = -(0xF0 - 0x3C) / 2 = -90 dB; >= 0xFC mutes.
      { slug: 'digital-playback-volume', kind: 'volume', dir: 'output', range: [-90, 0, 0.5], percent: [-60, 0], main: true, mute: true },
      // 0x00 = +12 dB to 0x7F = 12 - 63.5 = -51.5 dB; no mute code.
      { slug: 'headphone-playback-volume', kind: 'volume', dir: 'output', range: [-51.5, 12, 0.5], percent: [-48, 12] },
    ],
  },
  wm8960: {
    name: 'WM8960 stereo codec', vendor: 'Cirrus Logic (Wolfson Microelectronics)', datasheet: 'Wolfson/Cirrus Logic WM8960 datasheet (figures via codecs/wm8960/FACTS.md)',
    controls: [
      // 0x01 = -127 dB up by 0.5 dB to 0xFF = 0 dB; 0x00 mutes.
      { slug: 'digital-playback-volume', kind: 'volume', dir: 'output', range: [-127, 0, 0.5], percent: [-60, 0], main: true, mute: true },
      // 0x7F = +6 dB down by 1 dB to 0x30 = 6 - 79 = -73 dB.
      { slug: 'headphone-playback-volume', kind: 'volume', dir: 'output', range: [-73, 6, 1], percent: [-54, 6] },
      { slug: 'speaker-playback-volume', kind: 'volume', dir: 'output', range: [-73, 6, 1], percent: [-54, 6] },
      // 0xFF = +30 dB down by 0.5 dB to 0x01 = 30 - 127 = -97 dB; 0x00 mutes.
      { slug: 'adc-capture-volume', kind: 'volume', dir: 'input', range: [-97, 30, 0.5], percent: [-30, 30], main: true, mute: true },
      // 0x00 = -17.25 dB up by 0.75 dB to 0x3F = -17.25 + 47.25 = 30 dB.
      { slug: 'capture-pga-volume', kind: 'volume', dir: 'input', range: [-17.25, 30, 0.75], percent: [-17.25, 30] },
    ],
  },
};

interface BoardFacts { part: string; vendor: string; lines: string[]; output: string[]; input: string[]; policies?: string[] }
const SIM_BOARD: BoardFacts = {
  part: 'sim-codec', vendor: 'sbc-audio (simulation)', lines: ['jack-detect', 'amp-enable', 'encoder-a', 'encoder-b', 'encoder-push'], output: ['speaker', 'headphone'], input: ['mic'],
  // A jack, a speaker stream and an amplifier line: the headphone-mutes-speaker policy.
  policies: ['headphone-mutes-speaker'],
};
const BOARDS: Record<string, BoardFacts> = {
  sim: SIM_BOARD,
  'sim-many-formats': SIM_BOARD,
  'adafruit-max98357-sim': { part: 'max98357a', vendor: 'Adafruit', lines: ['amp-enable'], output: ['speaker'], input: [] },
  'hifiberry-dacplus-sim': { part: 'pcm5122', vendor: 'HiFiBerry', lines: [], output: ['line-out'], input: [] },
  'hifiberry-dacplus-pro-sim': { part: 'pcm5122', vendor: 'HiFiBerry', lines: [], output: ['line-out'], input: [] },
  'iqaudio-dacplus-sim': { part: 'pcm5122', vendor: 'IQaudio (Raspberry Pi)', lines: ['mute'], output: ['line-out'], input: [] },
  'pimoroni-phat-dac-sim': { part: 'pcm5102a', vendor: 'Pimoroni', lines: [], output: ['line-out'], input: [] },
  'respeaker-2mic-v2-sim': { part: 'tlv320aic3104', vendor: 'Seeed Studio', lines: [], output: ['headphone'], input: ['microphones'] },
  'sim-cs4271': { part: 'cs4271', vendor: 'sbc-audio (simulation fixture)', lines: [], output: ['line-out'], input: [] },
  'sim-sgtl5000': { part: 'sgtl5000', vendor: 'sbc-audio (simulation fixture)', lines: [], output: ['headphone'], input: [] },
  'waveshare-wm8960-hat-sim': { part: 'wm8960', vendor: 'Waveshare', lines: [], output: ['headphone', 'speaker'], input: ['microphone'] },
};

/** Checks a listing against the facts above; returns the ids it expects. */
function checkListing(board: string, f: BoardFacts, l: ControlListing, boardFile = `board/${board}.json`): void {
  const part = PARTS[f.part]!;
  const byId = new Map(l.controls.map((c) => [c.id, c]));
  const expected: string[] = [];
  const descriptor = (d: ComponentDescriptor, want: Partial<ComponentDescriptor>) => {
    for (const [k, v] of Object.entries(want)) assert.equal(d[k as keyof ComponentDescriptor], v, `${board}: descriptor ${d.id}.${k}`);
    assert.ok(d.name.length > 0, `${board}: ${d.id} has a name`);
  };
  descriptor(l.board, { id: board, vendor: f.vendor, version: PKG.version, licence: PKG.license, source: boardFile });
  assert.equal(l.parts.length, 1, board);
  descriptor(l.parts[0]!, { id: f.part, name: part.name, vendor: part.vendor, version: PKG.version, licence: PKG.license, source: part.datasheet });

  const volume = (id: string, v: Vol, what: string) => {
    const c = byId.get(id);
    assert.ok(c, `${board}: ${what} ${id} is listed (ids: ${[...byId.keys()].join(', ')})`);
    assert.equal(c.kind, 'volume', id);
    assert.deepEqual(c.range, { min: v.range[0], max: v.range[1], step: v.range[2] }, id);
    assert.equal(c.unit, 'dB', id);
    assert.deepEqual([c.display?.curve, c.display?.percent.minDb, c.display?.percent.maxDb], ['dB', v.percent[0], v.percent[1]], `${id} percent mapping`);
    assert.equal(typeof c.value, 'number', `${id} has its value`);
    return c;
  };
  for (const pc of part.controls) {
    const id = `${board}.${f.part}.${pc.slug}`;
    expected.push(id);
    if (pc.kind === 'volume') {
      const c = volume(id, pc, 'part volume');
      assert.equal(c.direction, pc.dir, id);
      assert.ok((c.registers?.length ?? 0) > 0, `${id} names its registers`);
    } else {
      const c = byId.get(id);
      assert.ok(c, `${board}: ${id} is listed`);
      assert.equal(c.kind, pc.kind, id);
      assert.deepEqual(c.values, pc.values, id);
      assert.equal(c.writable, true, `${id} can be set`);
      assert.ok(c.value === null || (pc.kind === 'switch' ? typeof c.value === 'boolean' : pc.values.includes(c.value as string)), `${id} value ${String(c.value)}`);
    }
    assert.equal(byId.get(id)!.realtimeSafe, false, `${id}: a register write over I2C is not real-time safe`);
    assert.deepEqual(byId.get(id)!.owner, { kind: 'part', id: f.part });
  }
  // The streams' gains and mutes: the part's main volume of their direction.
  for (const dir of ['output', 'input'] as const) {
    const main = part.controls.find((c): c is Vol => c.kind === 'volume' && c.dir === dir && c.main === true);
    if (!main) continue;
    for (const s of f[dir]) {
      const gid = `${board}.${s}.gain`;
      expected.push(gid);
      const g = volume(gid, main, 'stream gain');
      assert.ok(g.sameAs?.includes(`${board}.${f.part}.${main.slug}`), `${gid} is the same control as the part's main volume`);
      assert.equal(g.realtimeSafe, false, gid);
      if (main.mute) {
        const mid = `${board}.${s}.mute`;
        expected.push(mid);
        const m = byId.get(mid);
        assert.ok(m, `${board}: ${mid} is listed`);
        assert.deepEqual([m.kind, m.values, m.writable], ['switch', ['off', 'on'], true], mid);
      }
    }
  }
  for (const role of f.lines) {
    const id = `${board}.board.${role}`;
    expected.push(id);
    const c = byId.get(id);
    assert.ok(c, `${board}: line ${id} is listed`);
    assert.deepEqual([c.kind, c.values, c.writable, c.realtimeSafe], ['switch', ['off', 'on'], false, false], id);
    assert.ok(c.readOnlyWhy, `${id} says why it is read-only`);
  }
  for (const p of f.policies ?? []) expected.push(`${board}.board.${p}`);
  for (const c of l.controls) assert.ok(c.source.trim().length > 0, `${c.id} has a source`);
  assert.deepEqual([...byId.keys()].sort(), expected.sort(), `${board}: exactly the expected controls`);
}

describe('sbc-audio ctl / gain / play --volume / info: the control channel from the command line', function () {
  this.timeout(60000);
  const dirs: string[] = [];
  const served: ServedBoard[] = [];
  const tempDir = (what: string) => {
    const d = mkdtempSync(path.join(tmpdir(), `sbc-ctl-${what}-`));
    dirs.push(d);
    return d;
  };
  const serve = async (board: string, dir: string, audio = false) => {
    const s = await serveBoard(board, { runtimeDir: dir, ...(audio ? {} : { ringBuffer: false as const }) });
    served.push(s);
    return s;
  };
  const stopAll = async () => {
    for (const s of served.splice(0)) await s.close();
  };
  after(async () => {
    await stopAll();
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  describe('ctl list --json on every simulated board', () => {
    it('the board files with "hal": "sim" are the boards listed here (a new one needs its facts written)', () => {
      const sims = readdirSync(path.join(ROOT, 'board')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5))
        .filter((n) => loadBoard(n).hal === 'sim').sort();
      assert.deepEqual(sims, Object.keys(BOARDS).sort());
    });

    for (const [board, facts] of Object.entries(BOARDS)) {
      it(`${board}: every control of ${facts.part}, the stream gains and mutes, the board's lines, the descriptors`, async () => {
        const dir = tempDir('list');
        const s = await serve(board, dir);
        try {
          const l = await cliJson<ControlListing>(['ctl', 'list', '--runtime-dir', dir]);
          checkListing(board, facts, l);
        } finally {
          await s.close();
        }
      });
    }

    it('negative control: a copy of board/sim.json with one more GPIO role lists one more line', async () => {
      const dir = tempDir('extra-line');
      // The board's name is its file's name.
      const file = path.join(dir, 'sim-extra.json');
      const b = JSON.parse(readFileSync(path.join(ROOT, 'board/sim.json'), 'utf8')) as { name: string; gpio: Record<string, unknown> };
      b.name = 'sim-extra';
      b.gpio.mute = { chip: 'sim-gpio0', line: 23 };
      writeFileSync(file, JSON.stringify(b));
      const s = await serve(file, dir);
      try {
        const l = await cliJson<ControlListing>(['ctl', 'list', '--runtime-dir', dir]);
        assert.throws(() => checkListing('sim-extra', SIM_BOARD, l, path.relative(ROOT, file)), /exactly the expected controls/);
        checkListing('sim-extra', { ...SIM_BOARD, lines: [...SIM_BOARD.lines, 'mute'] }, l, path.relative(ROOT, file));
        assert.equal(l.controls.filter((c) => c.owner.kind === 'board' && !c.writable).length, 6);
      } finally {
        await s.close();
      }
    });

    it('ctl list prints a table with the value, range or values, state and flags', async () => {
      const dir = tempDir('table');
      const s = await serve('sim', dir);
      try {
        const r = await cli(['ctl', 'list', '--runtime-dir', dir]);
        assert.equal(r.code, 0, r.err);
        assert.match(r.out, /^ID\s+KIND\s+VALUE\s+RANGE\/VALUES\s+STATE\s+FLAGS$/m);
        // board/sim.json controlDefaults: speaker.gain -20.
        assert.match(r.out, /^sim\.speaker\.gain\s+volume\s+-20 dB\s+-127 \.\. 0 dB \(step 0\.5\)\s+idle\s*$/m);
        assert.match(r.out, /^sim\.sim-codec\.dac-filter\s+enum\s+sharp\s+sharp, slow, low-latency\s+idle\s*$/m);
        assert.match(r.out, /^sim\.board\.amp-enable\s+switch\s+off\s+off, on\s+idle\s+ro$/m);
      } finally {
        await s.close();
      }
    });
  });

  describe('ctl get / set on the sim board and on hifiberry-dacplus-sim: the chip changes, refusals change nothing', () => {
    let dir: string;
    before(async () => {
      dir = tempDir('set');
      await serve('sim', dir);
    });
    after(stopAll);

    type Regs = { registers: { name: string; addr: number; read: number | null }[] };
    const reg = async (d: string, name: string, board?: string) => {
      const j = await cliJson<Regs>(['sim', 'regs', '--runtime-dir', d, ...(board ? ['--board', board] : [])]);
      const r = j.registers.find((x) => x.name === name);
      assert.ok(r && typeof r.read === 'number', `${name} read from the chip model`);
      return r.read;
    };
    const get = (id: string, d = dir) => cliJson<ControlInfo>(['ctl', 'get', id, '--runtime-dir', d]);

    it("'DAC Playback Switch' off sets DAC_CTRL (0x06) bit 0; on clears it", async () => {
      const before = await reg(dir, 'DAC_CTRL');
      assert.equal(before & 1, 0, 'reset: DAC_CTRL bit 0 clear (sound on)');
      assert.equal((await get('sim.sim-codec.dac-playback-switch')).value, true);
      const r = await cli(['ctl', 'set', 'sim.sim-codec.dac-playback-switch', 'off', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'sim.sim-codec.dac-playback-switch: off');
      assert.equal((await reg(dir, 'DAC_CTRL')) & 1, 1);
      assert.equal((await get('sim.sim-codec.dac-playback-switch')).value, false);
      const j = await cliJson<ControlInfo>(['ctl', 'set', 'sim.sim-codec.dac-playback-switch', 'on', '--runtime-dir', dir]);
      assert.equal(j.value, true);
      assert.equal((await reg(dir, 'DAC_CTRL')) & 1, 0);
    });

    it("'DAC Filter' slow sets DAC_CTRL bits [2:1] to 1; an unknown name is refused (exit 1, the values named) and changes nothing", async () => {
      assert.equal(((await reg(dir, 'DAC_CTRL')) >> 1) & 3, 0, 'reset: sharp (0)');
      const r = await cli(['ctl', 'set', 'sim.sim-codec.dac-filter', 'slow', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'sim.sim-codec.dac-filter: slow');
      const after = await reg(dir, 'DAC_CTRL');
      assert.equal((after >> 1) & 3, 1);
      const info = await get('sim.sim-codec.dac-filter');
      assert.equal(info.value, 'slow');
      const bad = await cli(['ctl', 'set', 'sim.sim-codec.dac-filter', 'medium', '--runtime-dir', dir]);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /^sbc-audio ctl: .*"medium".*sharp, slow, low-latency/);
      assert.equal(bad.out, '');
      assert.equal(await reg(dir, 'DAC_CTRL'), after, 'the register as before');
      assert.equal((await get('sim.sim-codec.dac-filter')).value, 'slow', 'ctl get as before');
    });

    it('an out-of-range gain is refused with the range (exit 1) and changes nothing', async () => {
      const set = await cli(['ctl', 'set', 'sim.speaker.gain', '-30', '--runtime-dir', dir]);
      assert.equal(set.code, 0, set.err);
      assert.equal(set.out, 'sim.speaker.gain: -30 dB');
      const volL = await reg(dir, 'VOL_L');
      assert.equal(volL, 60, '-30 dB: code 30 / 0.5 = 60 (0.5 dB a code below 0 dB)');
      const r = await cli(['ctl', 'set', 'sim.speaker.gain', '10', '--runtime-dir', dir]);
      assert.equal(r.code, 1);
      assert.match(r.err, /^sbc-audio ctl: .*-127 \.\. 0 dB/);
      assert.equal(await reg(dir, 'VOL_L'), volL);
      assert.equal((await get('sim.speaker.gain')).value, -30);
      // An unknown control: the service's refusal, exit 1.
      const unknown = await cli(['ctl', 'get', 'sim.nothing.here', '--runtime-dir', dir]);
      assert.equal(unknown.code, 1);
      assert.match(unknown.err, /^sbc-audio ctl: .*sim\.nothing\.here/);
    });

    it('ctl set STREAM.trim with --at-frame / --at-ns / --ramp-ms: the engine control; a register control refuses a frame (exit 1); bad options are usage errors (exit 2)', async () => {
      // The trim is the engine's: a service with audio (the others here run without engines).
      const dir = tempDir('trim');
      await serve('sim', dir, true);
      const t = await cliJson<ControlInfo>(['ctl', 'set', 'sim.speaker.trim', '-6', '--ramp-ms', '0', '--json', '--runtime-dir', dir]);
      assert.deepEqual([t.value, t.realtimeSafe], [-6, true]);
      const at = await cli(['ctl', 'set', 'sim.speaker.trim', '0', '--at-frame', '48000', '--runtime-dir', dir]);
      assert.equal(at.code, 0, at.err);
      assert.match(at.out, /^sim\.speaker\.trim: 0 dB/);
      const refused = await cli(['ctl', 'set', 'sim.speaker.gain', '-6', '--at-frame', '100', '--runtime-dir', dir]);
      assert.equal(refused.code, 1);
      assert.match(refused.err, /a change at a stream frame is for engine controls/);
      for (const args of [['get', 'sim.speaker.trim', '--at-frame', '5'], ['set', 'sim.speaker.trim', '-6', '--at-frame', 'x'], ['set', 'sim.speaker.trim', '-6', '--at-frame', '5', '--at-ns', '7'], ['set', 'sim.speaker.trim', '-6', '--ramp-ms', '-1']]) {
        const r = await cli(['ctl', ...args, '--runtime-dir', dir]);
        assert.equal(r.code, 2, `ctl ${args.join(' ')}: ${r.err}`);
      }
    });

    it('a value starting with "-" is a value, not an option (as is everything after --); unknown options are still refused', () => {
      // The premise (negative control): node's parseArgs alone reads "-20" as the options -2 -0.
      assert.throws(() => parseOptions(['set', 'sim.speaker.gain', '-20'], CONTROL_OPTIONS, true), UsageError);
      assert.deepEqual(parseWithNegativeValues(['set', 'sim.speaker.gain', '-20', '--board', 'sim'], CONTROL_OPTIONS).positionals, ['set', 'sim.speaker.gain', '-20']);
      assert.deepEqual(parseWithNegativeValues(['set', '--', 'sim.speaker.gain', '-3dB'], CONTROL_OPTIONS).positionals, ['set', 'sim.speaker.gain', '-3dB']);
      assert.deepEqual(parseWithNegativeValues(['set', 'x', '-.5'], CONTROL_OPTIONS).positionals, ['set', 'x', '-.5']);
      assert.throws(() => parseWithNegativeValues(['list', '-x'], CONTROL_OPTIONS), UsageError);
      assert.throws(() => parseWithNegativeValues(['list', '--louder'], CONTROL_OPTIONS), UsageError);
    });

    it('ctl set ID -20, ctl set -- ID -6, ctl set ID -3dB, ctl set ID +3dB, ctl set ID 50%', async () => {
      const run = async (args: string[], expect: string) => {
        // Options first: after '--' everything is an argument.
        const r = await cli(['ctl', '--runtime-dir', dir, ...args]);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.err}`);
        assert.equal(r.out, expect, args.join(' '));
      };
      await run(['set', 'sim.speaker.gain', '-20'], 'sim.speaker.gain: -20 dB');
      await run(['set', '--', 'sim.speaker.gain', '-6'], 'sim.speaker.gain: -6 dB');
      await run(['set', 'sim.speaker.gain', '-3dB'], 'sim.speaker.gain: -9 dB');
      await run(['set', 'sim.speaker.gain', '+3dB'], 'sim.speaker.gain: -6 dB');
      // 50 % of the top 60 dB: -30 dB.
      await run(['set', 'sim.speaker.gain', '50%'], 'sim.speaker.gain: -30 dB');
      // The shared main volume: the headphone's gain and the part's volume are the same control.
      assert.equal((await get('sim.headphone.gain')).value, -30);
      assert.equal((await get('sim.sim-codec.digital-playback-volume')).value, -30);
    });

    it('ctl get prints the value and its metadata', async () => {
      await cli(['ctl', 'set', 'sim.speaker.gain', '-20', '--runtime-dir', dir]);
      const r = await cli(['ctl', 'get', 'sim.speaker.gain', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      const lines = r.out.split('\n');
      assert.equal(lines[0], 'sim.speaker.gain: -20 dB');
      assert.match(r.out, /^ {2}range: +-127 \.\. 0 dB \(step 0\.5\)$/m);
      assert.match(r.out, /^ {2}default: +-20 dB \(board\/sim\.json controlDefaults\["speaker\.gain"\]\)$/m);
      assert.match(r.out, /^ {2}percent: +0 % = -60 dB, 100 % = 0 dB .*; now 66\.7 %$/m);
      assert.match(r.out, /^ {2}real-time safe: no$/m);
      assert.match(r.out, /^ {2}same as: +sim\.headphone\.gain, sim\.sim-codec\.digital-playback-volume$/m);
      assert.match(r.out, /^ {2}source: +\S/m);
      const line = await cli(['ctl', 'get', 'sim.board.amp-enable', '--runtime-dir', dir]);
      assert.match(line.out, /^ {2}writable: +no \(.+\)$/m);
    });

    it('hifiberry-dacplus-sim: DSP Program low-latency writes DSP_PROGRAM (page 0 reg 43) = 2; an unknown program is refused', async () => {
      const d = tempDir('dacplus');
      const s = await serve('hifiberry-dacplus-sim', d);
      try {
        const dsp = async () => {
          const j = await cliJson<{ registers: { name: string; where: string; read: number | null }[] }>(['sim', 'regs', '--runtime-dir', d]);
          const r = j.registers.find((x) => x.name === 'DSP_PROGRAM')!;
          assert.equal(r.where, 'page 0 reg 0x2b');
          return r.read;
        };
        assert.equal(await dsp(), 1, 'normal (1) after init');
        assert.equal((await get('hifiberry-dacplus-sim.pcm5122.dsp-program', d)).value, 'normal');
        const r = await cli(['ctl', 'set', 'hifiberry-dacplus-sim.pcm5122.dsp-program', 'low-latency', '--runtime-dir', d]);
        assert.equal(r.code, 0, r.err);
        assert.equal(r.out, 'hifiberry-dacplus-sim.pcm5122.dsp-program: low-latency');
        assert.equal(await dsp(), 2);
        const bad = await cli(['ctl', 'set', 'hifiberry-dacplus-sim.pcm5122.dsp-program', 'turbo', '--runtime-dir', d]);
        assert.equal(bad.code, 1);
        assert.match(bad.err, /normal, low-latency, high-attenuation, fixed-flow, asymmetric/);
        assert.equal(await dsp(), 2);
        // 25 dB is above the PCM5122's +24 dB.
        const loud = await cli(['ctl', 'set', 'hifiberry-dacplus-sim.line-out.gain', '25', '--runtime-dir', d]);
        assert.equal(loud.code, 1);
        assert.match(loud.err, /-103 \.\. 24 dB/);
      } finally {
        await s.close();
      }
    });
  });

  describe('gain STREAM [DB] [--mute | --unmute]', () => {
    let dir: string;
    before(async () => {
      dir = tempDir('gain');
      await serve('sim', dir);
    });
    after(stopAll);

    const gain = async (...args: string[]) => {
      const r = await cli(['gain', '--runtime-dir', dir, ...args]);
      assert.equal(r.code, 0, `gain ${args.join(' ')}: ${r.err}`);
      return r.out;
    };

    it('gain sim.speaker -20, then gain sim.speaker prints -20 dB; --mute / --unmute; +3dB; -3dB parsed as a value', async () => {
      assert.equal(await gain('sim.speaker', '-20'), 'sim.speaker: -20 dB');
      assert.equal(await gain('sim.speaker'), 'sim.speaker: -20 dB');
      assert.equal(await gain('sim.speaker', '--mute'), 'sim.speaker: -20 dB (muted)');
      assert.equal((await cliJson<ControlInfo>(['ctl', 'get', 'sim.speaker.mute', '--runtime-dir', dir])).value, true);
      assert.equal(await gain('sim.speaker'), 'sim.speaker: -20 dB (muted)');
      assert.equal(await gain('sim.speaker', '--unmute'), 'sim.speaker: -20 dB');
      assert.equal((await cliJson<ControlInfo>(['ctl', 'get', 'sim.speaker.mute', '--runtime-dir', dir])).value, false);
      assert.equal(await gain('sim.speaker', '+3dB'), 'sim.speaker: -17 dB');
      assert.equal(await gain('sim.speaker', '-3dB'), 'sim.speaker: -20 dB');
      assert.equal(await gain('speaker', '-6.5'), 'sim.speaker: -6.5 dB', 'a stream of the only board served');
      assert.equal(await gain('--', 'sim.speaker', '-12'), 'sim.speaker: -12 dB');
      // The same control through the other stream of the direction and through ctl.
      assert.equal(await gain('sim.headphone'), 'sim.headphone: -12 dB');
      const j = JSON.parse(await gain('sim.speaker', '--json')) as { stream: string; gain: ControlInfo; mute: ControlInfo };
      assert.deepEqual([j.stream, j.gain.id, j.gain.value, j.mute.id, j.mute.value], ['sim.speaker', 'sim.speaker.gain', -12, 'sim.speaker.mute', false]);
    });

    it('refusals: out of range (exit 1, the range), an unknown stream (exit 1, the streams named), a board not served (exit 3), usage errors (exit 2)', async () => {
      const loud = await cli(['gain', 'sim.speaker', '3', '--runtime-dir', dir]);
      assert.equal(loud.code, 1);
      assert.match(loud.err, /^sbc-audio gain: .*-127 \.\. 0 dB/);
      assert.equal(await gain('sim.speaker'), 'sim.speaker: -12 dB', 'nothing changed');
      const none = await cli(['gain', 'sim.mic', '--runtime-dir', dir]);
      assert.equal(none.code, 1);
      assert.match(none.err, /no stream "mic" with a gain \(streams with a gain: sim\.speaker, sim\.headphone\)/);
      const other = await cli(['gain', 'elsewhere.speaker', '--runtime-dir', dir]);
      assert.equal(other.code, 3);
      assert.match(other.err, /board elsewhere is not served under .*boards served there: sim/);
      assert.equal((await cli(['gain', 'sim.speaker', '--mute', '--unmute', '--runtime-dir', dir])).code, 2);
      assert.equal((await cli(['gain', '--runtime-dir', dir])).code, 2);
    });
  });

  describe('finding the board: none, several, one named', () => {
    it('no service: exit 3 naming the folder; two boards: exit 2 naming both unless --board; an unknown --board: exit 3 naming the served', async () => {
      const dir = tempDir('find');
      const none = await cli(['ctl', 'list', '--runtime-dir', dir]);
      assert.equal(none.code, 3);
      assert.match(none.err, /^sbc-audio ctl: no control channel under .*control/);
      await serve('sim', dir);
      await serve('sim-cs4271', dir);
      const two = await cli(['ctl', 'list', '--runtime-dir', dir]);
      assert.equal(two.code, 2);
      assert.match(two.err, /several boards are served under .* \(sim, sim-cs4271\): choose one with --board/);
      const picked = await cliJson<ControlListing>(['ctl', 'list', '--board', 'sim-cs4271', '--runtime-dir', dir]);
      assert.equal(picked.board.id, 'sim-cs4271');
      assert.equal(findControlChannel(dir, 'sim'), path.join(dir, 'control', 'sim.sock'));
      const unknown = await cli(['ctl', 'list', '--board', 'sim-sgtl5000', '--runtime-dir', dir]);
      assert.equal(unknown.code, 3);
      assert.match(unknown.err, /board sim-sgtl5000 is not served under .* \(boards served there: sim, sim-cs4271\)/);
      // gain STREAM names its board among several.
      const r = await cli(['gain', 'sim-cs4271.line-out', '-7', '--runtime-dir', dir]);
      assert.equal(r.code, 0, r.err);
      assert.equal(r.out, 'sim-cs4271.line-out: -7 dB');
      await stopAll();
    });
  });

  describe('ctl watch', () => {
    let dir: string;
    let svc: ServedBoard;
    before(async () => {
      dir = tempDir('watch');
      svc = await serve('sim', dir);
    });
    after(stopAll);

    it('sees a change made by ctl set and one made by the stream owner\'s SET_GAIN; ends with 0 when stopped', async () => {
      const client = await ControlClient.connect(svc.service.controlPath);
      const c = captureIO();
      let stop = () => {};
      const stopped = new Promise<void>((resolve) => { stop = resolve; });
      const watching = watchControls(client, [], c.io, true, stopped);
      try {
        await c.waitErr(/watching every control/);
        assert.equal((await cli(['ctl', 'set', 'sim.sim-codec.dac-filter', 'low-latency', '--runtime-dir', dir])).code, 0);
        const f = JSON.parse(await c.waitOut(/"id":"sim\.sim-codec\.dac-filter"/)) as ControlInfo;
        assert.equal(f.value, 'low-latency');
        const app = await StreamClient.connect(svc.service.endpoints.find((e) => e.name === 'sim.speaker')!.path);
        try {
          assert.equal((await app.setGain({ gain: -33 })).result, 0);
        } finally {
          await app.close();
        }
        const g = JSON.parse(await c.waitOut(/"id":"sim\.speaker\.gain"/)) as ControlInfo;
        assert.equal(g.value, -33);
        // The headphone's gain is the same control: its change is announced too.
        assert.equal((JSON.parse(await c.waitOut(/"id":"sim\.headphone\.gain"/)) as ControlInfo).value, -33);
      } finally {
        stop();
      }
      assert.equal(await watching, 0);
      client.close();
    });

    it('through main: only the ids asked for; SIGINT ends it with exit 0; an unknown id is refused (exit 1)', async () => {
      const c = captureIO();
      const running = main(['ctl', 'watch', 'sim.speaker.mute', '--runtime-dir', dir], c.io);
      await c.waitErr(/watching sim\.speaker\.mute/);
      await cli(['ctl', 'set', 'sim.speaker.gain', '-40', '--runtime-dir', dir]);
      await cli(['ctl', 'set', 'sim.speaker.mute', 'on', '--runtime-dir', dir]);
      await c.waitOut(/sim\.speaker\.mute: on$/);
      process.emit('SIGINT', 'SIGINT');
      assert.equal(await running, 0);
      assert.deepEqual(c.out.filter((l) => l.includes('gain')), [], 'the gain change is not printed (negative control)');
      await cli(['ctl', 'set', 'sim.speaker.mute', 'off', '--runtime-dir', dir]);
      const bad = await cli(['ctl', 'watch', 'sim.nope', '--runtime-dir', dir]);
      assert.equal(bad.code, 1);
      assert.match(bad.err, /sim\.nope/);
    });
  });

  describe('play --volume', () => {
    let dir: string;
    before(async () => {
      dir = tempDir('play');
      await serve('sim', dir, true);
    });
    after(stopAll);

    it('play --volume -6 on sim.speaker: the stream plays at -6 dB, unmuted; outside -127 .. 0 dB is a usage error (exit 2)', async () => {
      // Start from another gain, muted, so that the change is seen.
      assert.equal((await cli(['gain', 'sim.speaker', '-30', '--mute', '--runtime-dir', dir])).code, 0);
      const c = captureIO();
      const playing = main(['play', '--tone', '--seconds', '1.5', '--volume', '-6', '--stream', 'sim.speaker', '--runtime-dir', dir], c.io);
      let seen: ControlInfo | undefined;
      const deadline = Date.now() + 20000;
      while (Date.now() < deadline) {
        const g = await cliJson<ControlInfo>(['ctl', 'get', 'sim.speaker.gain', '--runtime-dir', dir]);
        if (g.state === 'active') { seen = g; break; }
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(seen, 'the stream became active');
      assert.equal(seen.value, -6);
      assert.equal((await cliJson<ControlInfo>(['ctl', 'get', 'sim.speaker.mute', '--runtime-dir', dir])).value, false);
      assert.equal(await playing, 0, c.err.join('\n'));

      for (const v of ['10', '-128']) {
        const r = await cli(['play', '--tone', '--seconds', '0.1', '--volume', v, '--stream', 'sim.speaker', '--runtime-dir', dir]);
        assert.equal(r.code, 2, `--volume ${v}`);
        assert.match(r.err, /-127 \.\. 0 dB \(step 0\.5\)/);
      }
      assert.equal((await cli(['play', '--tone', '--volume', 'loud', '--runtime-dir', dir])).code, 2);
      assert.equal((await cliJson<ControlInfo>(['ctl', 'get', 'sim.speaker.gain', '--runtime-dir', dir])).value, -6, 'the refused volumes changed nothing');
    });
  });

  describe('info', () => {
    it('info --board sim --json: every control with its metadata, the gain controls, the descriptors', async () => {
      type Info = { controls: ControlInfo[]; gainControls: { name: string; main: boolean }[]; descriptors: { board: ComponentDescriptor; parts: ComponentDescriptor[] } };
      const j = await cliJson<Info>(['info', '--board', 'sim']);
      assert.deepEqual(j.controls.map((c) => c.id), [
        'sim.speaker.gain', 'sim.speaker.mute', 'sim.headphone.gain', 'sim.headphone.mute', 'sim.speaker.trim', 'sim.headphone.trim',
        'sim.sim-codec.digital-playback-volume', 'sim.sim-codec.dac-playback-switch', 'sim.sim-codec.dac-filter',
        'sim.board.jack-detect', 'sim.board.amp-enable', 'sim.board.encoder-a', 'sim.board.encoder-b', 'sim.board.encoder-push', 'sim.board.headphone-mutes-speaker',
      ]);
      const byId = new Map(j.controls.map((c) => [c.id, c]));
      const gain = byId.get('sim.speaker.gain')!;
      assert.deepEqual([gain.range, gain.default, gain.defaultSource], [{ min: -127, max: 0, step: 0.5 }, -20, 'board/sim.json controlDefaults["speaker.gain"]']);
      const filter = byId.get('sim.sim-codec.dac-filter')!;
      assert.deepEqual([filter.kind, filter.values, filter.default, filter.realtimeSafe, filter.writable], ['enum', ['sharp', 'slow', 'low-latency'], 'sharp', false, true]);
      assert.match(filter.defaultSource!, /codecs\/sim-codec\/description\.ts/);
      assert.equal('value' in filter, false, 'descriptors, without values');
      assert.deepEqual(byId.get('sim.board.amp-enable')!.writable, false);
      // The engine's trim: the one real-time-safe control (set at a frame, on the audio path).
      const trim = byId.get('sim.speaker.trim')!;
      assert.deepEqual([trim.kind, trim.range, trim.default, trim.realtimeSafe, trim.writable], ['volume', { min: -60, max: 0, step: 0 }, 0, true, true]);
      assert.deepEqual(j.controls.filter((c) => c.realtimeSafe).map((c) => c.id), ['sim.speaker.trim', 'sim.headphone.trim']);
      assert.equal(j.gainControls.find((g) => g.main)?.name, 'Digital Playback Volume');
      assert.deepEqual([j.descriptors.board.id, j.descriptors.board.source, j.descriptors.parts.map((p) => p.id)], ['sim', 'board/sim.json', ['sim-codec']]);

      const t = await cli(['info', '--board', 'sim']);
      assert.equal(t.code, 0, t.err);
      assert.match(t.out, /^ID\s+KIND\s+RANGE\/VALUES\s+DEFAULT\s+RT-SAFE\s+WRITABLE$/m);
      assert.match(t.out, /^sim\.speaker\.gain\s+volume\s+-127 \.\. 0 dB \(step 0\.5\)\s+-20 dB\s+no\s+yes$/m);
      assert.match(t.out, /^sim\.board\.jack-detect\s+switch\s+off, on\s+unknown\s+no\s+no$/m);
    });
  });

  describe('ControlClient', () => {
    /** A stand-in channel: `answer` decides what each request line gets (nothing: silence). */
    async function fakeChannel(answer: (req: { id: number; cmd: string }, sock: net.Socket) => void) {
      const dir = tempDir('fake');
      const p = path.join(dir, 'fake.sock');
      const server = net.createServer((sock) => {
        let buf = '';
        sock.setEncoding('utf8');
        sock.on('data', (d: string) => {
          buf += d;
          for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
            const line = buf.slice(0, i);
            buf = buf.slice(i + 1);
            answer(JSON.parse(line) as { id: number; cmd: string }, sock);
          }
        });
      });
      await new Promise<void>((resolve) => server.listen(p, resolve));
      return { path: p, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
    }

    it('a refusal rejects with ControlRequestError carrying the service\'s message verbatim; answers are matched by id', async () => {
      const f = await fakeChannel((req, sock) => {
        // Answers out of order: the id, not the order, matches them.
        if (req.cmd === 'get') setTimeout(() => sock.write(`${JSON.stringify({ id: req.id, ok: true, control: { id: 'x.y.z', value: 1 } })}\n`), 50);
        else sock.write(`${JSON.stringify({ id: req.id, ok: false, error: 'made-up refusal: "x" is 3 .. 4 dB' })}\n`);
      });
      const c = await ControlClient.connect(f.path);
      try {
        const got = c.get('x.y.z');
        const refused = c.set('x.y.z', 5).then(() => assert.fail('resolved'), (e: unknown) => e);
        const e = await refused;
        assert.ok(e instanceof ControlRequestError);
        assert.equal(e.message, 'made-up refusal: "x" is 3 .. 4 dB');
        assert.equal(e.cmd, 'set');
        assert.equal((await got).value, 1);
      } finally {
        c.close();
        await f.close();
      }
    });

    it('a timeout rejects naming the command; a closed connection rejects what is pending', async () => {
      const f = await fakeChannel((req, sock) => {
        if (req.cmd === 'subscribe') sock.destroy();
      });
      const c = await ControlClient.connect(f.path, { timeoutMs: 200 });
      await assert.rejects(c.list(), /^ControlChannelError: list: no answer from the control channel .* within 0\.2 s$/);
      const pending = c.get('a.b.c');
      await assert.rejects(c.subscribe(), /subscribe: .*closed/);
      await assert.rejects(pending, /get: .*closed/);
      await assert.rejects(c.get('a.b.c'), /closed/, 'a request after the close rejects at once');
      c.close();
      await f.close();
    });

    it('connecting where nothing is served says so', async () => {
      await assert.rejects(ControlClient.connect(path.join(tempDir('nothing'), 'none.sock')), /no control channel at .*none\.sock/);
    });
  });
});
