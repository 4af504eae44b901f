/**
 * The device-tree overlays of alsa/overlays/: each compiles with `dtc -@` without a warning and
 * applies with `fdtoverlay` to a Raspberry Pi base tree, and each board file that names one of
 * them names the card it creates. The base tree is written here, minimal, with the labels of the
 * Pi firmware's tree that the facts list (docs/facts/boards.md#the-pis-base-tree): not a Debian DTB,
 * since those come from upstream trees without the firmware's `sound` node (alsa/overlays/README.md).
 * Negative controls: a planted overlay with a misspelt target label, and a base tree without `sound`.
 *
 * dtc, fdtoverlay and fdtget come from Debian's device-tree-compiler, which `make setup` installs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { listBoardNames, loadBoard, OVERLAY_DIR } from '../../src/board/load.ts';
import { applyOverlays, baseLabels, compileDts, fdtGetCells, fdtGetString, overlayLabelRefs } from '../../src/system/overlays.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const PLANTED = path.join(ROOT, 'tests/fixtures/overlays/misspelt-target.dts');

/** The labels from docs/facts/boards.md#the-pis-base-tree, on nodes with the properties listed there. */
function baseTree(labels: { sound?: boolean } = {}): string {
  return `/dts-v1/;
/ {
	compatible = "raspberrypi,4-model-b", "brcm,bcm2711";
	#address-cells = <1>;
	#size-cells = <1>;

	soc {
		gpio: gpio {
			gpio-controller;
			#gpio-cells = <2>;
		};

		i2s: i2s {
			#sound-dai-cells = <0>;
			status = "disabled";
		};

		i2c1: i2c {
			#address-cells = <1>;
			#size-cells = <0>;
			status = "disabled";
		};
	};
${labels.sound === false ? '' : `
	sound: sound {
		status = "disabled";
	};
`}};
`;
}

const EXPECTED: Record<string, { card: string; duplex: boolean }> = {
  'sbc-i2s-duplex': { card: 'sbci2sduplex', duplex: true },
  'sbc-i2s-duplex-codec-master': { card: 'sbci2sduplexcm', duplex: true },
  'sbc-i2s-dac-codec-master': { card: 'sbci2sdaccm', duplex: false },
};

describe('device-tree overlays (alsa/overlays/)', function () {
  this.timeout(30_000);
  let dir: string;
  let baseDtb: string;
  const sources = readdirSync(OVERLAY_DIR).filter((f) => f.endsWith('.dts')).sort();

  before(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-overlays-'));
    writeFileSync(path.join(dir, 'base.dts'), baseTree());
    baseDtb = path.join(dir, 'base.dtb');
    const r = compileDts(path.join(dir, 'base.dts'), baseDtb);
    assert.ok(r.ok, `the base tree does not compile (run 'make setup' for dtc): ${r.stderr}`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('are the three the project needs', () => {
    assert.deepEqual(sources, ['sbc-i2s-dac-codec-master.dts', 'sbc-i2s-duplex-codec-master.dts', 'sbc-i2s-duplex.dts']);
  });

  for (const name of sources.map((f) => f.slice(0, -4))) {
    it(`${name}: compiles with dtc -@ with no warning and applies to the Pi base tree, filling 'sound' with card ${EXPECTED[name]?.card}`, () => {
      const dtbo = path.join(dir, `${name}.dtbo`);
      const c = compileDts(path.join(OVERLAY_DIR, `${name}.dts`), dtbo);
      assert.ok(c.ok, c.stderr);
      assert.equal(c.stderr, '', 'dtc printed warnings');
      // The labels it needs from the Pi's tree, all of which the base tree has.
      assert.deepEqual(overlayLabelRefs(dtbo), ['i2s', 'sound']);
      assert.deepEqual(baseLabels(baseDtb), ['gpio', 'i2c1', 'i2s', 'sound']);
      const out = path.join(dir, `${name}.applied.dtb`);
      const a = applyOverlays(baseDtb, out, [dtbo]);
      assert.ok(a.ok, `fdtoverlay: ${a.stderr}`);
      assert.ok(EXPECTED[name], `${name}: no expected card in this test`);
      assert.equal(fdtGetString(out, '/sound', 'compatible'), 'simple-audio-card');
      assert.equal(fdtGetString(out, '/sound', 'simple-audio-card,name'), EXPECTED[name]!.card);
      assert.equal(fdtGetString(out, '/sound', 'status'), 'okay');
      assert.equal(fdtGetString(out, '/soc/i2s', 'status'), 'okay');
      // No codec node on the I2C bus: the codec's address stays free for /dev/i2c-1.
      assert.equal(fdtGetString(out, '/soc/i2c', 'status'), 'disabled');
      const codecDais = fdtGetCells(out, '/sound/simple-audio-card,codec', 'sound-dai');
      assert.equal(codecDais.length, EXPECTED[name]!.duplex ? 2 : 1);
    });
  }

  it('every board that names an overlay of sbc-audio names the card that overlay gives', () => {
    const named = listBoardNames().map((n) => loadBoard(n)).filter((b) => b.overlay?.source === 'sbc-audio' && !b.twinOf);
    assert.deepEqual(named.map((b) => b.name).sort(), ['hifiberry-dacplus-pro', 'respeaker-2mic-v2', 'waveshare-wm8960-hat']);
    for (const b of named) {
      assert.equal(b.overlay!.card, EXPECTED[b.overlay!.name]?.card, `${b.file}: overlay.card`);
      assert.equal(b.alsaCard, b.overlay!.card, `${b.file}: alsaCard`);
    }
  });

  it('negative control: a planted overlay targeting a misspelt label ("i2s_") compiles but does not apply', () => {
    const dtbo = path.join(dir, 'planted.dtbo');
    const c = compileDts(PLANTED, dtbo);
    assert.ok(c.ok, c.stderr);
    const a = applyOverlays(baseDtb, path.join(dir, 'planted.applied.dtb'), [dtbo]);
    assert.equal(a.ok, false, 'fdtoverlay accepted an overlay whose target label the base tree lacks');
    assert.match(a.stderr, /FDT_ERR_NOTFOUND/);
    const missing = overlayLabelRefs(dtbo).filter((l) => !baseLabels(baseDtb).includes(l));
    assert.deepEqual(missing, ['i2s_']);
  });

  it("negative control: a base tree without the firmware's 'sound' node (as upstream trees) takes none of the overlays", () => {
    writeFileSync(path.join(dir, 'upstream.dts'), baseTree({ sound: false }));
    const upstream = path.join(dir, 'upstream.dtb');
    assert.ok(compileDts(path.join(dir, 'upstream.dts'), upstream).ok);
    for (const name of Object.keys(EXPECTED)) {
      const dtbo = path.join(dir, `${name}.u.dtbo`);
      assert.ok(compileDts(path.join(OVERLAY_DIR, `${name}.dts`), dtbo).ok);
      const a = applyOverlays(upstream, path.join(dir, `${name}.u.dtb`), [dtbo]);
      assert.equal(a.ok, false, `${name} applied to a tree without 'sound'`);
      assert.deepEqual(overlayLabelRefs(dtbo).filter((l) => !baseLabels(upstream).includes(l)), ['sound']);
    }
  });
});

