/**
 * Issue 29, part A: the LADSPA binding (src/dsp/ladspa.ts) and `sbc-audio plugins`, against real
 * plugins (Debian's cmt, swh-plugins, tap-plugins, lsp-plugins-ladspa, ladspa-sdk's own examples,
 * all in /usr/lib/ladspa) and the test library (tests/fixtures/ladspa/sbc_test_plugins.c).
 *
 * The expected values are literals: from ladspa.h (LADSPA SDK 1.1)'s rules for defaults and bounds,
 * and from what ladspa-sdk's analyseplugin prints for the same plugins. The listing is compared
 * with analyseplugin's output field by field for five libraries from five packages, and a field
 * changed on purpose makes that comparison fail.
 *
 * Debian packages: ladspa-sdk (analyseplugin, ladspa.h), cmt, swh-plugins, tap-plugins,
 * lsp-plugins-ladspa, gcc (cc for the test library).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { tsWorker } from '../../src/util/worker.ts';
import { main } from '../../src/cli/main.ts';
import {
  LadspaError, type LadspaPluginInfo, type LadspaPortInfo, allocPortMemory, findLibrary, ladspaSearchPath, listAll, listLibrary, openPlugin, portBounds, portDefault,
} from '../../src/dsp/ladspa.ts';
import { TEST_PLUGINS_FILE, buildTestPlugins } from '../support/ladspa-fixtures.ts';

const LADSPA_DIR = '/usr/lib/ladspa';
const CMT = `${LADSPA_DIR}/cmt.so`;
const LIBC = '/usr/lib/x86_64-linux-gnu/libc.so.6';

/** Runs the CLI in this process; returns its exit code and what it printed. */
async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (t) => { out += `${t}\n`; }, err: (t) => { err += `${t}\n`; }, isTTY: false });
  return { code, out, err };
}

function expectLadspaError(fn: () => unknown, code: LadspaError['code'], ...mentions: (string | RegExp)[]): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof LadspaError, `a LadspaError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const m of mentions) {
      if (typeof m === 'string') assert.ok(e.message.includes(m), `"${e.message}" names ${m}`);
      else assert.match(e.message, m);
    }
    return true;
  });
}

/** A port for the default/bound rules: only what the rules read is set. */
function port(p: Partial<LadspaPortInfo>): LadspaPortInfo {
  return {
    index: 0, name: 'p', direction: 'input', type: 'control', boundedBelow: p.lower !== undefined, boundedAbove: p.upper !== undefined,
    toggled: false, sampleRate: false, logarithmic: false, integer: false, defaultHint: 'none', lower: undefined, upper: undefined, ...p,
  };
}

describe('LADSPA: search path and libraries', () => {
  it('LADSPA_PATH wins when set and non-empty; relative entries are dropped', () => {
    assert.deepEqual(ladspaSearchPath({ LADSPA_PATH: '/opt/a:relative/b::/opt/c/' }, ['/etc/x']), ['/opt/a', '/opt/c']);
    assert.deepEqual(ladspaSearchPath({ LADSPA_PATH: '' }, ['/etc/x', 'rel']), ['/etc/x']);
    assert.deepEqual(ladspaSearchPath({}, []).slice(0, 2), ['/usr/local/lib/ladspa', '/usr/lib/ladspa']);
  });

  it('finds a library by file name, with or without .so', () => {
    assert.equal(findLibrary('amp_1181', [LADSPA_DIR]), `${LADSPA_DIR}/amp_1181.so`);
    assert.equal(findLibrary('cmt.so', ['/nonexistent', LADSPA_DIR]), CMT);
  });

  it('refuses a path (/ or ..) and names the directories searched for a missing library', () => {
    expectLadspaError(() => findLibrary('/usr/lib/ladspa/cmt.so', [LADSPA_DIR]), 'invalid-argument', '/usr/lib/ladspa/cmt.so', 'no \'/\' or \'..\'');
    expectLadspaError(() => findLibrary('..', [LADSPA_DIR]), 'invalid-argument', '".."');
    expectLadspaError(() => findLibrary('no_such_plugin.so', ['/nonexistent', LADSPA_DIR]), 'not-found', 'no_such_plugin.so', '/nonexistent', LADSPA_DIR);
  });

  it('a file that is not a LADSPA library: an ELF without ladspa_descriptor, a text file, no file', () => {
    expectLadspaError(() => listLibrary(LIBC), 'no-descriptor', LIBC, 'ladspa_descriptor');
    const dir = mkdtempSync(path.join(tmpdir(), 'sbc-ladspa-'));
    try {
      const text = path.join(dir, 'text.so');
      writeFileSync(text, 'not a shared object: a text file long enough for the loader to read a whole ELF header from it\n');
      // dlerror()'s words for a file that is not ELF, through koffi.
      expectLadspaError(() => listLibrary(text), 'load-failed', text, 'invalid ELF header');
      expectLadspaError(() => listLibrary(path.join(dir, 'gone.so')), 'not-found', path.join(dir, 'gone.so'));
      // listAll lists the broken file with its error beside the good library, and does not throw.
      const lib = buildTestPlugins();
      const all = listAll([dir, lib]);
      const bad = all.find((l) => l.library === text);
      assert.ok(bad?.error?.includes('invalid ELF header'), JSON.stringify(bad));
      assert.equal(all.find((l) => l.library === path.join(lib, TEST_PLUGINS_FILE))?.plugins.length, 4);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a missing label names the library and the label, and lists the labels it has', () => {
    expectLadspaError(() => openPlugin(CMT, 'amp_monoo'), 'label-not-found', CMT, '"amp_monoo"', 'amp_mono', 'amp_stereo');
  });
});

describe('LADSPA: instances', () => {
  let testLib: string;
  before(function () {
    this.timeout(60000); // the first run compiles the test library
    testLib = path.join(buildTestPlugins(), TEST_PLUGINS_FILE);
  });

  it("cmt's amp_mono multiplies by its Gain port", () => {
    const p = openPlugin(CMT, 'amp_mono');
    // analyseplugin: "Gain" input control, "Input" input audio, "Output" output audio; hard RT.
    assert.deepEqual(p.info.ports.map((x) => [x.name, x.direction, x.type]), [['Gain', 'input', 'control'], ['Input', 'input', 'audio'], ['Output', 'output', 'audio']]);
    assert.equal(p.info.uniqueId, 1067);
    assert.equal(p.info.hardRtCapable, true);
    const inst = p.instantiate(48000);
    const gain = allocPortMemory(1);
    const io = allocPortMemory(32);
    const input = io.subarray(0, 16);
    const output = io.subarray(16, 32);
    gain[0] = 2;
    input.set([0.25, -0.5, 0.125, 1]);
    inst.connect(0, gain);
    inst.connect(1, input);
    inst.connect(2, output);
    inst.activate();
    inst.run(4);
    assert.deepEqual(Array.from(output.subarray(0, 5)), [0.5, -1, 0.25, 2, 0]);
    inst.deactivate();
    inst.cleanup();
    inst.cleanup(); // a second cleanup does nothing
    expectLadspaError(() => inst.run(4), 'invalid-argument', 'run after cleanup');
  });

  it('refuses memory that is not from allocPortMemory, a port that does not exist, and running unconnected', () => {
    const inst = openPlugin(CMT, 'amp_mono').instantiate(48000);
    try {
      expectLadspaError(() => inst.connect(1, new Float32Array(64)), 'invalid-argument', 'allocPortMemory', 'port 1 (Input)');
      expectLadspaError(() => inst.connect(3, allocPortMemory(4)), 'invalid-argument', 'no port 3');
      inst.connect(0, allocPortMemory(1));
      expectLadspaError(() => inst.run(1), 'invalid-argument', 'port 1 (Input) not connected');
    } finally {
      inst.cleanup();
    }
  });

  it('the test library: gain, latency report, not-RT flag, the busy-wait', () => {
    const infos = listLibrary(testLib);
    assert.deepEqual(infos.map((i) => [i.label, i.hardRtCapable]), [['sbc_test_gain', true], ['sbc_test_slow', true], ['sbc_test_not_rt', false], ['sbc_test_latency', true]]);
    const mem = allocPortMemory(64);
    const [input, output, ctl, latency] = [mem.subarray(0, 16), mem.subarray(16, 32), mem.subarray(32, 33), mem.subarray(33, 34)];
    input.set([1, 2, 3, 4, 5, 6, 7, 8]);

    const gain = openPlugin(testLib, 'sbc_test_gain').instantiate(48000);
    gain.connect(0, input); gain.connect(1, output); gain.connect(2, ctl);
    ctl[0] = 0.5;
    gain.activate(); gain.run(8); gain.cleanup();
    assert.deepEqual(Array.from(output.subarray(0, 8)), [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);

    const delay = openPlugin(testLib, 'sbc_test_latency');
    assert.deepEqual(delay.info.ports.map((x) => [x.name, x.direction, x.type, x.integer]), [['Input', 'input', 'audio', false], ['Output', 'output', 'audio', false], ['Delay', 'input', 'control', true], ['latency', 'output', 'control', false]]);
    const d = delay.instantiate(48000);
    d.connect(0, input); d.connect(1, output); d.connect(2, ctl); d.connect(3, latency);
    ctl[0] = 3;
    d.activate(); d.run(8); d.cleanup();
    assert.deepEqual(Array.from(output.subarray(0, 8)), [0, 0, 0, 1, 2, 3, 4, 5]);
    assert.equal(latency[0], 3);

    // 20 ms of busy-waiting cannot take less than 20 ms (a lower bound only: a loaded host makes it longer).
    const slow = openPlugin(testLib, 'sbc_test_slow').instantiate(48000);
    slow.connect(0, input); slow.connect(1, output); slow.connect(2, ctl);
    ctl[0] = 20000;
    const t0 = process.hrtime.bigint();
    slow.run(8);
    const tookUs = Number(process.hrtime.bigint() - t0) / 1000;
    slow.cleanup();
    assert.ok(tookUs >= 20000, `sbc_test_slow ran ${tookUs} µs`);
    assert.deepEqual(Array.from(output.subarray(0, 8)), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  describe('run() in a worker thread, without allocating', function () {
    this.timeout(120000);
    /** 200,000 run(64) calls in a worker with a 1 MB young generation; see ladspa-worker-child.ts. */
    function measure(allocate: boolean): Promise<{ scavenges: number; otherGcs: number; youngBytes: number; output: number[] }> {
      const w = tsWorker(new URL('./ladspa-worker-child.ts', import.meta.url), { workerData: { calls: 200000, allocate }, resourceLimits: { maxYoungGenerationSizeMb: 1 } });
      return new Promise((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
        w.once('exit', (code) => reject(new Error(`worker exited (${code}) before reporting`)));
      });
    }

    it('loads and runs amp_mono in a worker; 200,000 run(64) calls cause no collection', async () => {
      const r = await measure(false);
      // Gain 0.5 on i/64: the plugin ran in the worker.
      assert.deepEqual(r.output, [0, 0.5 / 64, 1 / 64, 1.5 / 64]);
      assert.equal(r.scavenges, 0, JSON.stringify(r));
      assert.equal(r.otherGcs, 0, JSON.stringify(r));
      // Under a byte per call grew the young generation (no scavenge emptied it meanwhile).
      assert.ok(r.youngBytes >= 0 && r.youngBytes < 200000, JSON.stringify(r));
    });

    it('negative control: 64 bytes allocated per call are seen (scavenges)', async () => {
      const r = await measure(true);
      assert.ok(r.scavenges > 0, JSON.stringify(r));
    });
  });
});

describe('LADSPA: defaults and bounds (ladspa.h rules)', () => {
  it('minimum/maximum are the bounds, × rate for a sample-rate port', () => {
    assert.equal(portDefault(port({ lower: 0.25, upper: 0.5, sampleRate: true, defaultHint: 'minimum' }), 48000), 12000);
    assert.equal(portDefault(port({ lower: 0.25, upper: 0.5, sampleRate: true, defaultHint: 'maximum' }), 48000), 24000);
    assert.deepEqual(portBounds(port({ lower: 0, upper: 0.5, sampleRate: true }), 44100), { min: 0, max: 22050 });
    assert.deepEqual(portBounds(port({ lower: -70, upper: 30 }), 44100), { min: -70, max: 30 });
    assert.deepEqual(portBounds(port({ lower: 0 }), 48000), { min: 0, max: undefined });
  });

  it('low/middle/high weigh the bounds 0.75/0.25, 0.5/0.5, 0.25/0.75, on the logs when logarithmic', () => {
    assert.equal(portDefault(port({ lower: 0, upper: 4, defaultHint: 'low' }), 48000), 1);
    assert.equal(portDefault(port({ lower: 0, upper: 4, defaultHint: 'middle' }), 48000), 2);
    assert.equal(portDefault(port({ lower: 0, upper: 4, defaultHint: 'high' }), 48000), 3);
    const close = (a: number | undefined, b: number) => assert.ok(a !== undefined && Math.abs(a - b) < 1e-9 * b, `${a} ≈ ${b}`);
    close(portDefault(port({ lower: 1, upper: 10000, logarithmic: true, defaultHint: 'low' }), 48000), 10);
    close(portDefault(port({ lower: 1, upper: 100, logarithmic: true, defaultHint: 'middle' }), 48000), 10);
    close(portDefault(port({ lower: 1, upper: 10000, logarithmic: true, defaultHint: 'high' }), 48000), 1000);
  });

  it('integer ports round; 0/1/100/440 are those numbers; none is undefined', () => {
    assert.equal(portDefault(port({ lower: 0, upper: 5, integer: true, defaultHint: 'middle' }), 48000), 3);
    assert.equal(portDefault(port({ lower: 0, upper: 5, defaultHint: 'middle' }), 48000), 2.5);
    assert.equal(portDefault(port({ defaultHint: '440' }), 48000), 440);
    assert.equal(portDefault(port({ defaultHint: '100' }), 48000), 100);
    assert.equal(portDefault(port({ toggled: true, defaultHint: '1' }), 48000), 1);
    assert.equal(portDefault(port({ lower: 0, upper: 1 }), 48000), undefined);
  });

  it("real plugins: the defaults analyseplugin prints, at a rate", () => {
    // analyseplugin /usr/lib/ladspa/bandpass_iir_1892.so: "Center Frequency (Hz)" 0.0001*srate to
    // 0.45*srate, default 0.0067082*srate, logarithmic; "Stages(2 poles per stage)" 1 to 10, default 1, integer.
    const bp = openPlugin(`${LADSPA_DIR}/bandpass_iir_1892.so`, 'bandpass_iir').info.ports;
    const centre = portDefault(bp[0]!, 48000)!;
    assert.ok(Math.abs(centre - 0.0067082 * 48000) < 0.01, String(centre));
    const b = portBounds(bp[0]!, 48000);
    assert.ok(Math.abs(b.min! - 4.8) < 1e-4 && Math.abs(b.max! - 21600) < 1e-2, JSON.stringify(b));
    assert.equal(portDefault(bp[2]!, 48000), 1);
    // analyseplugin /usr/lib/ladspa/filter.so lpf: "Cutoff Frequency (Hz)" 0 to 0.5*srate, default 440, logarithmic.
    const lpf = openPlugin(`${LADSPA_DIR}/filter.so`, 'lpf').info.ports[0]!;
    assert.equal(portDefault(lpf, 48000), 440);
    assert.deepEqual(portBounds(lpf, 48000), { min: 0, max: 24000 });
    // analyseplugin /usr/lib/ladspa/cmt.so compress_peak: "Compression Ratio" ... to 1, default 0.5;
    // "Output Envelope Attack (s)" 0 to ..., default 0.1: a middle default on a port not bounded
    // below, a maximum one on a port not bounded above (the descriptor's field is read, as
    // analyseplugin does).
    const comp = openPlugin(CMT, 'compress_peak').info.ports;
    assert.equal(comp[1]!.lower, undefined);
    assert.equal(comp[2]!.upper, undefined);
    assert.equal(portDefault(comp[1]!, 48000), 0.5);
    assert.ok(Math.abs(portDefault(comp[2]!, 48000)! - 0.1) < 1e-6);
    // Without the field (a port made by hand) there is nothing to take the default from.
    assert.equal(portDefault(port({ lower: 0, defaultHint: 'maximum' }), 48000), undefined);
    // analyseplugin /usr/lib/ladspa/amp_1181.so: "Amps gain (dB)" -70 to 70, default 0.
    const amp = openPlugin(`${LADSPA_DIR}/amp_1181.so`, 'amp').info.ports[0]!;
    assert.equal(portDefault(amp, 48000), 0);
    assert.deepEqual(portBounds(amp, 48000), { min: -70, max: 70 });
  });
});

// --- `sbc-audio plugins --json` against analyseplugin ----------------------------------------

/** One port as analyseplugin prints it (its source: ladspa-sdk's analyseplugin.c). */
interface AnalysedPort {
  name: string;
  direction: string;
  type: string;
  /** "a to b" as printed, each "N", "N*srate" or "..."; undefined when not bounded either way. */
  lower?: string;
  upper?: string;
  toggled: boolean;
  /** The printed default ("N" or "N*srate"), or undefined. */
  dflt?: string;
  logarithmic: boolean;
  integer: boolean;
}
interface AnalysedPlugin {
  name: string; label: string; uniqueId: number; maker: string; copyright: string;
  realtime: boolean; hardRtCapable: boolean; inplaceBroken: boolean; ports: AnalysedPort[];
}

/** Parses analyseplugin's verbose report. */
function parseAnalyse(text: string): AnalysedPlugin[] {
  const plugins: AnalysedPlugin[] = [];
  let cur: AnalysedPlugin | undefined;
  const quoted = (line: string, key: string) => {
    const m = new RegExp(`^${key}: "(.*)"$`).exec(line);
    return m ? m[1]! : undefined;
  };
  for (const line of text.split('\n')) {
    let v: string | undefined;
    if ((v = quoted(line, 'Plugin Name')) !== undefined) {
      cur = { name: v, label: '', uniqueId: -1, maker: '', copyright: '', realtime: false, hardRtCapable: false, inplaceBroken: false, ports: [] };
      plugins.push(cur);
    } else if (!cur) continue;
    else if ((v = quoted(line, 'Plugin Label')) !== undefined) cur.label = v;
    else if ((v = quoted(line, 'Maker')) !== undefined) cur.maker = v;
    else if ((v = quoted(line, 'Copyright')) !== undefined) cur.copyright = v;
    else if (line.startsWith('Plugin Unique ID: ')) cur.uniqueId = Number(line.slice(18));
    else if (line.startsWith('Must Run Real-Time: ')) cur.realtime = line.endsWith('Yes');
    else if (line.startsWith('Environment: ')) cur.hardRtCapable = line.includes('Hard Real-Time');
    else if (line.startsWith('This plugin cannot use in-place processing')) cur.inplaceBroken = true;
    else {
      const m = /^(?:Ports:)?\t"(.*)" (input|output), (control|audio)(.*)$/.exec(line);
      if (!m) continue;
      const rest = m[4]!.split(', ').slice(1);
      const p: AnalysedPort = { name: m[1]!, direction: m[2]!, type: m[3]!, toggled: false, logarithmic: false, integer: false };
      for (const item of rest) {
        const range = /^(\S+) to (\S+)$/.exec(item);
        if (range) { p.lower = range[1]; p.upper = range[2]; }
        else if (item === 'toggled' || item === 'ERROR: TOGGLED INCOMPATIBLE WITH OTHER HINT') p.toggled = true;
        else if (item.startsWith('default ')) p.dflt = item.slice(8);
        else if (item === 'logarithmic') p.logarithmic = true;
        else if (item === 'integer') p.integer = true;
        else throw new Error(`analyseplugin port item not understood: "${item}" in ${line}`);
      }
      cur.ports.push(p);
    }
  }
  return plugins;
}

/** A printed %g number (or N*srate) against a value: equal to %g's 6 significant digits. */
function sameNumber(printed: string, value: number, srate: boolean): boolean {
  const m = /^(-?[0-9.e+-]+|-?inf|nan)(\*srate)?$/.exec(printed);
  if (!m || Boolean(m[2]) !== srate) return false;
  const shown = Number(m[1]);
  const v = Math.fround(value);
  return Math.abs(shown - v) <= 5e-6 * Math.max(Math.abs(shown), Math.abs(v)) + 1e-30;
}

/**
 * The differences between our listing and analyseplugin's for one library ([] when they agree):
 * plugin fields, then per port name, direction, type, bounds (with the *srate marking
 * analyseplugin gives a non-zero bound of a sample-rate port), toggled, default, logarithmic,
 * integer.
 */
function compareWithAnalyse(ours: LadspaPluginInfo[], theirs: AnalysedPlugin[]): string[] {
  const diffs: string[] = [];
  if (ours.length !== theirs.length) diffs.push(`plugin count ${ours.length} vs ${theirs.length}`);
  for (let i = 0; i < Math.min(ours.length, theirs.length); i++) {
    const o = ours[i]!;
    const t = theirs[i]!;
    const at = `${o.label}`;
    for (const k of ['label', 'name', 'uniqueId', 'maker', 'copyright', 'realtime', 'hardRtCapable', 'inplaceBroken'] as const) {
      if (o[k] !== t[k]) diffs.push(`${at}: ${k} ${JSON.stringify(o[k])} vs ${JSON.stringify(t[k])}`);
    }
    if (o.ports.length !== t.ports.length) diffs.push(`${at}: port count ${o.ports.length} vs ${t.ports.length}`);
    o.ports.forEach((op, j) => {
      const tp = t.ports[j];
      if (!tp) return;
      const pa = `${at} port ${j} "${op.name}"`;
      for (const k of ['name', 'direction', 'type', 'toggled', 'logarithmic', 'integer'] as const) {
        if (op[k] !== tp[k]) diffs.push(`${pa}: ${k} ${JSON.stringify(op[k])} vs ${JSON.stringify(tp[k])}`);
      }
      const bounded = op.boundedBelow || op.boundedAbove;
      if (bounded !== (tp.lower !== undefined)) diffs.push(`${pa}: bounded ${bounded} vs ${tp.lower ?? 'none'}`);
      const bound = (mine: number | undefined, printed: string | undefined, what: string) => {
        if (printed === undefined) return;
        const ok = mine === undefined ? printed === '...' : sameNumber(printed, mine, op.sampleRate && mine !== 0);
        if (!ok) diffs.push(`${pa}: ${what} ${mine} (sample-rate ${op.sampleRate}) vs ${printed}`);
      };
      bound(op.lower, tp.lower, 'lower');
      bound(op.upper, tp.upper, 'upper');
      // analyseplugin computes a bounds-based default from the raw bounds, not × rate and not
      // rounded; 0/1/100/440 it prints as they are.
      if (op.defaultHint === 'none') {
        if (tp.dflt !== undefined) diffs.push(`${pa}: no default vs ${tp.dflt}`);
      } else if (tp.dflt === undefined) diffs.push(`${pa}: default ${op.defaultHint} vs none`);
      else {
        const fixed = ['0', '1', '100', '440'].includes(op.defaultHint);
        const mine = fixed ? Number(op.defaultHint) : defaultLikeAnalyse(op);
        if (mine === undefined || !sameNumber(tp.dflt, mine, !fixed && op.sampleRate && Math.fround(mine) !== 0)) {
          diffs.push(`${pa}: default ${op.defaultHint} = ${mine} vs ${tp.dflt}`);
        }
      }
    });
  }
  return diffs;
}

/**
 * A bounds-based default as analyseplugin computes it: portDefault at rate 1, unrounded. Where
 * ladspa.h's logarithmic formula meets a bound ≤ 0 (log undefined; portDefault then weighs
 * linearly), analyseplugin's C arithmetic gives exp(-inf) = 0 or sqrt of the product: that case is
 * computed here the C way, since it is analyseplugin's printing being matched, not a rule.
 */
function defaultLikeAnalyse(p: LadspaPortInfo): number | undefined {
  const lo = p.lower ?? p.lowerField;
  const hi = p.upper ?? p.upperField;
  if (p.logarithmic && lo !== undefined && hi !== undefined && (lo <= 0 || hi <= 0)) {
    const w = p.defaultHint === 'low' ? 0.75 : p.defaultHint === 'middle' ? 0.5 : p.defaultHint === 'high' ? 0.25 : undefined;
    if (w !== undefined) return p.defaultHint === 'middle' ? Math.sqrt(lo * hi) : Math.exp(Math.log(lo) * w + Math.log(hi) * (1 - w));
  }
  return portDefault({ ...p, integer: false, sampleRate: false }, 1);
}

describe('sbc-audio plugins', () => {
  /** One library from each of five packages (dpkg -S): cmt, swh-plugins, tap-plugins, lsp-plugins-ladspa, ladspa-sdk. */
  const LIBRARIES = ['cmt.so', 'bandpass_iir_1892.so', 'tap_eq.so', 'lsp-plugins-ladspa-1.2.5.so', 'filter.so'];

  for (const lib of LIBRARIES) {
    it(`--json agrees with analyseplugin for ${lib}`, async function () {
      this.timeout(60000);
      const r = await cli(['plugins', '--json', '--ladspa-path', LADSPA_DIR, lib]);
      assert.equal(r.code, 0, r.err);
      const ours = JSON.parse(r.out) as LadspaPluginInfo[];
      const theirs = parseAnalyse(execFileSync('analyseplugin', [`${LADSPA_DIR}/${lib}`], { encoding: 'utf8', maxBuffer: 64 << 20 }));
      assert.ok(theirs.length > 0 && theirs.length === ours.length, `${ours.length} vs ${theirs.length} plugins`);
      assert.deepEqual(compareWithAnalyse(ours, theirs), []);
    });
  }

  it('the test library agrees with analyseplugin too (integer, output control, not hard-RT)', async () => {
    const dir = buildTestPlugins();
    const r = await cli(['plugins', '--json', '--ladspa-path', dir, TEST_PLUGINS_FILE]);
    assert.equal(r.code, 0, r.err);
    const theirs = parseAnalyse(execFileSync('analyseplugin', [path.join(dir, TEST_PLUGINS_FILE)], { encoding: 'utf8' }));
    assert.deepEqual(compareWithAnalyse(JSON.parse(r.out) as LadspaPluginInfo[], theirs), []);
  });

  it('negative control: one altered field makes the comparison fail', async () => {
    const r = await cli(['plugins', '--json', '--ladspa-path', LADSPA_DIR, 'bandpass_iir_1892.so']);
    const ours = JSON.parse(r.out) as LadspaPluginInfo[];
    const theirs = parseAnalyse(execFileSync('analyseplugin', [`${LADSPA_DIR}/bandpass_iir_1892.so`], { encoding: 'utf8' }));
    assert.deepEqual(compareWithAnalyse(ours, theirs), []);
    const alter = (f: (p: LadspaPluginInfo[]) => void) => {
      const copy = structuredClone(ours);
      f(copy);
      return compareWithAnalyse(copy, theirs);
    };
    assert.equal(alter((p) => { p[0]!.ports[0]!.logarithmic = false; }).length, 2); // the flag and the middle default (linear now)
    assert.equal(alter((p) => { p[0]!.ports[0]!.sampleRate = false; }).length, 3); // both bounds and the default lose *srate
    assert.equal(alter((p) => { p[0]!.ports[0]!.upper = 0.46; }).length, 2); // the bound and the middle default
    assert.equal(alter((p) => { p[0]!.ports[2]!.integer = false; }).length, 1);
    assert.equal(alter((p) => { p[0]!.ports[3]!.direction = 'output'; }).length, 1);
    assert.equal(alter((p) => { p[0]!.hardRtCapable = false; }).length, 1);
  });

  it('text output: a library with its ports; the list of all libraries', async () => {
    const one = await cli(['plugins', '--ladspa-path', LADSPA_DIR, 'cmt.so', 'amp_mono']);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /amp_mono \(unique id 1067, index \d+\): Amplifier \(Mono\)/);
    assert.match(one.out, /0 "Gain": input control, 0 to \.\.\., default 1, logarithmic/);
    const all = await cli(['plugins', '--ladspa-path', buildTestPlugins()]);
    assert.equal(all.code, 0, all.err);
    assert.match(all.out, /sbc_test_not_rt {2}5963779 .*\(not hard-RT\)/);
    assert.match(all.out, /sbc_test_gain {2}5963777 .*\(hard-RT\)/);
  });

  it('errors: a path is a usage error (2); a missing library or label fails (1), naming it', async () => {
    const pathGiven = await cli(['plugins', '--ladspa-path', LADSPA_DIR, '../cmt.so']);
    assert.equal(pathGiven.code, 2);
    assert.match(pathGiven.err, /"\.\.\/cmt\.so"/);
    const missing = await cli(['plugins', '--ladspa-path', LADSPA_DIR, 'nope.so']);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /nope\.so not found in \/usr\/lib\/ladspa/);
    const label = await cli(['plugins', '--ladspa-path', LADSPA_DIR, 'cmt.so', 'nolabel']);
    assert.equal(label.code, 1);
    assert.match(label.err, /no plugin labelled "nolabel" \(it has: .*amp_mono/);
    const relative = await cli(['plugins', '--ladspa-path', 'lib/ladspa']);
    assert.equal(relative.code, 2);
    assert.match(relative.err, /--ladspa-path must be colon-separated absolute directories/);
    const notLadspa = await cli(['plugins', '--json', '--ladspa-path', path.dirname(LIBC), path.basename(LIBC)]);
    assert.equal(notLadspa.code, 1);
    assert.match(notLadspa.err, /libc\.so\.6 is not a LADSPA library/);
  });
});
