/**
 * Board files on a Pi: the `overlay` field (which overlay gives the board its ALSA card, the card's
 * name and id, the HAT overlays it replaces), the folders board names are looked up in, and a
 * board file reading nothing outside its own folder.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { boardSearchDirs, BOARD_DIR, listBoardNames, loadBoard } from '../../src/board/load.ts';
import { alsaCardId, BoardFileError } from '../../src/board/schema.ts';

const FIX = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/boards');

const BAD: { file: string; field: string; expected: RegExp }[] = [
  { file: 'bad-overlay-card.json', field: 'alsaCard', expected: /expected "sndrpihifiberry", the ALSA id of overlay.card "snd_rpi_hifiberry_dac" .*got "sndrpihifiberrydac"/ },
  { file: 'bad-overlay-name.json', field: 'overlay.name', expected: /expected an overlay of sbc-audio's alsa\/overlays\/ \(sbc-i2s-dac-codec-master, sbc-i2s-duplex, sbc-i2s-duplex-codec-master\), or "source": "firmware", got "sbc-i2s-duplx"/ },
  { file: 'bad-overlay-pcm.json', field: 'streams[0].pcm', expected: /expected a PCM on card sndrpihifiberry \(the card overlay hifiberry-dac creates\), got "hw:CARD=IQaudIODAC,DEV=0"/ },
  { file: 'bad-overlay-source.json', field: 'overlay.source', expected: /expected one of "firmware", "sbc-audio", got "github"/ },
  { file: 'bad-overlay-replaces.json', field: 'overlay.replaces', expected: /expected overlays other than "hifiberry-dac" itself/ },
  { file: 'bad-twin-path.json', field: 'twinOf', expected: /expected the name of a board file in the same folder .*got "\.\.\/\.\.\/\.\.\/board\/sim"/ },
];

describe('board files: overlay and where boards are found', () => {
  for (const b of BAD) {
    it(`rejects ${b.file}: ${b.field}`, () => {
      assert.throws(() => loadBoard(path.join(FIX, b.file)), (e: unknown) => {
        assert.ok(e instanceof BoardFileError, String(e));
        assert.ok(e.message.startsWith(`tests/fixtures/boards/${b.file}: ${b.field}: `), e.message);
        assert.match(e.message, b.expected);
        return true;
      });
    });
  }

  it("makes ALSA's card id from a card name: letters and digits, at most 15", () => {
    assert.equal(alsaCardId('snd_rpi_hifiberry_dacplus'), 'sndrpihifiberry');
    assert.equal(alsaCardId('seeed-2mic-voicecard'), 'seeed2micvoicec');
    assert.equal(alsaCardId('wm8960-soundcard'), 'wm8960soundcard');
    assert.equal(alsaCardId('sbci2sduplexcm'), 'sbci2sduplexcm');
  });

  it('every real board names its overlay, the card it creates and the HAT overlays it replaces', () => {
    const real = listBoardNames().map((n) => loadBoard(n)).filter((b) => b.hal === 'linux');
    const table = Object.fromEntries(real.map((b) => [b.name, `${b.overlay?.name} ${b.overlay?.source} ${b.alsaCard} [${b.overlay?.replaces.join(' ')}]`]));
    assert.deepEqual(table, {
      'adafruit-max98357': 'hifiberry-dac firmware sndrpihifiberry [max98357a]',
      'hifiberry-dacplus': 'hifiberry-dac firmware sndrpihifiberry [hifiberry-dacplus]',
      'hifiberry-dacplus-pro': 'sbc-i2s-dac-codec-master sbc-audio sbci2sdaccm [hifiberry-dacplus]',
      'iqaudio-dacplus': 'hifiberry-dac firmware sndrpihifiberry [iqaudio-dacplus]',
      'pimoroni-phat-dac': 'hifiberry-dac firmware sndrpihifiberry []',
      'waveshare-wm8960-hat': 'sbc-i2s-duplex sbc-audio sbci2sduplex [wm8960-soundcard]',
      'respeaker-2mic-v2': 'sbc-i2s-duplex-codec-master sbc-audio sbci2sduplexcm [seeed-2mic-voicecard respeaker-2mic-v2_0]',
    });
  });

  describe('board folders', () => {
    let dir: string;
    const saved = process.env.SBC_AUDIO_CONFIG_DIR;
    beforeEach(() => {
      dir = mkdtempSync(path.join(tmpdir(), 'sbc-etc-'));
      process.env.SBC_AUDIO_CONFIG_DIR = dir;
    });
    afterEach(() => {
      if (saved === undefined) delete process.env.SBC_AUDIO_CONFIG_DIR;
      else process.env.SBC_AUDIO_CONFIG_DIR = saved;
      rmSync(dir, { recursive: true, force: true });
    });

    it("looks in the system's boards/ first, then the package's board/", () => {
      assert.deepEqual(boardSearchDirs(), [path.join(dir, 'boards'), BOARD_DIR]);
      mkdirSync(path.join(dir, 'boards'));
      const own = JSON.parse(JSON.stringify({
        name: 'sim', description: 'a local override of the sim board', hal: 'sim', codec: { part: 'sim-codec', bus: 1, address: '0x1b' },
        streams: [{ id: 'out', direction: 'output', purpose: 'speaker', pcm: 'sim:0,0' }],
      }));
      writeFileSync(path.join(dir, 'boards', 'sim.json'), JSON.stringify(own));
      assert.equal(loadBoard('sim').description, 'a local override of the sim board');
      // Not there: the package's own.
      assert.equal(loadBoard('hifiberry-dacplus').overlay?.name, 'hifiberry-dac');
      assert.ok(listBoardNames().includes('sim'));
    });

    it("negative control: without the system's folder the package's board is read", () => {
      assert.notEqual(loadBoard('sim').description, 'a local override of the sim board');
    });

    it('a twin in the system folder finds its base only in that folder', () => {
      mkdirSync(path.join(dir, 'boards'));
      copyFileSync(path.join(BOARD_DIR, 'pimoroni-phat-dac-sim.json'), path.join(dir, 'boards', 'pimoroni-phat-dac-sim.json'));
      assert.throws(() => loadBoard('pimoroni-phat-dac-sim'), /twinOf: expected a board in .*sbc-etc-.*\/boards\/, got "pimoroni-phat-dac"/);
    });
  });
});
