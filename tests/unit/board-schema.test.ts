import assert from 'node:assert/strict';
import path from 'node:path';
import { loadBoard, listBoardNames } from '../../src/board/load.ts';
import { BoardFileError } from '../../src/board/schema.ts';

const FIX = path.join(path.dirname(new URL(import.meta.url).pathname), '../fixtures/boards');

/** Each bad file has one defect; the error must name the file, the field path and what was expected. */
const BAD: { file: string; field: string; expected: RegExp }[] = [
  { file: 'bad-address.json', field: 'codec.address', expected: /expected a 7-bit I2C address from 0x03 to 0x77.*got "0x99"/ },
  { file: 'bad-purpose.json', field: 'streams[0].purpose', expected: /expected one of "speaker", "headphone", "line-out", "line-in", "microphone", got "subwoofer"/ },
  { file: 'bad-debounce.json', field: 'gpio.jack-detect.debounceUs', expected: /expected a debounce period in µs \(integer 0\.\.10000000\), got -5/ },
  { file: 'bad-delay-source.json', field: 'analogDelays[0].source', expected: /expected where the figure comes from .*got nothing \(the field is missing\)/ },
  { file: 'bad-gpio-role.json', field: 'gpio.volume-knob', expected: /expected no such field \(known fields: jack-detect, mute, amp-enable/ },
  { file: 'bad-plug.json', field: 'streams[0].plug', expected: /expected "hardwired" \(the board declares no gpio.jack-detect line\), got "jack-detect"/ },
  { file: 'bad-hal.json', field: 'hal', expected: /expected one of "linux", "sim", got "windows"/ },
  { file: 'bad-streams.json', field: 'streams', expected: /expected a non-empty array of streams, got \[\]/ },
  { file: 'bad-name.json', field: 'name', expected: /expected "bad-name" \(the file's name without \.json\), got "another-name"/ },
  { file: 'bad-oscillators.json', field: 'sim.oscillatorsHz', expected: /expected a list of oscillator frequencies in Hz .*got \[24576000,"22.5792 MHz"\]/ },
  { file: 'bad-twin.json', field: 'twinOf', expected: /expected a board in .*got "no-such-board"/ },
  { file: 'bad-mclk.json', field: 'codec.mclk.source', expected: /expected where the figure comes from \(a board fact, a schematic\), got nothing/ },
  { file: 'bad-mclk-from.json', field: 'codec.mclk.from', expected: /expected one of "oscillator", got "pll"/ },
  { file: 'bad-host-clock.json', field: 'sim.hostClock', expected: /expected one of "provider", "consumer", got "master"/ },
  // The knobs (docs/CONTROL.md, "Knobs"): an encoder's two lines, one chip, its section, its push.
  { file: 'bad-encoder-half.json', field: 'gpio.encoder-b', expected: /expected both encoder-a and encoder-b \(an encoder has two contacts\)/ },
  { file: 'bad-encoder-chips.json', field: 'gpio.encoder-b.chip', expected: /expected "sim-gpio0", the chip of encoder-a \(both lines are one request\), got "sim-gpio1"/ },
  { file: 'bad-encoder-section.json', field: 'encoder', expected: /expected an encoder section saying which control the encoder on gpio encoder-a\/encoder-b turns/ },
  { file: 'bad-encoder-push.json', field: 'encoder.push', expected: /expected a push section .* saying what the switch on gpio encoder-push does/ },
  { file: 'bad-midi-cc14.json', field: 'midi.map[0].cc', expected: /expected a controller number 0\.\.31 \(a 14-bit controller's MSB; its LSB is cc \+ 32\), got 40/ },
  { file: 'bad-midi-channel.json', field: 'midi.map[0].channel', expected: /expected a MIDI channel 1\.\.16 or "any", got 17/ },
];

describe('board files', () => {
  for (const b of BAD) {
    it(`rejects ${b.file}: ${b.field}`, () => {
      assert.throws(() => loadBoard(path.join(FIX, b.file)), (e: unknown) => {
        assert.ok(e instanceof BoardFileError, String(e));
        assert.ok(e.message.startsWith(`tests/fixtures/boards/${b.file}: ${b.field}: `), e.message);
        assert.equal(e.field, b.field);
        assert.match(e.message, b.expected);
        return true;
      });
    });
  }

  it('rejects a file that is not JSON, naming the file', () => {
    assert.throws(() => loadBoard(path.join(FIX, 'bad-json.json')), /tests\/fixtures\/boards\/bad-json\.json: \(top level\): expected valid JSON/);
  });

  it('names the known boards when a board does not exist', () => {
    assert.throws(() => loadBoard('no-such-board'), /board\/no-such-board\.json: \(top level\): expected a board file \(known boards: .*sim/);
  });

  it('reads the sim board with its defaults filled in', () => {
    const b = loadBoard('sim');
    assert.equal(b.hal, 'sim');
    assert.equal(b.codec.address, 0x1b);
    assert.equal(b.gpio['jack-detect']?.debounceUs, 20000);
    assert.equal(b.gpio['amp-enable']?.activeLow, false);
    assert.equal(b.gpio['amp-enable']?.bias, 'as-is');
    assert.deepEqual(b.streams.map((s) => s.purpose), ['speaker', 'headphone', 'microphone']);
    assert.deepEqual(b.sim.oscillatorsHz, [], 'no oscillators fitted unless the board says so');
    assert.deepEqual(loadBoard('hifiberry-dacplus-pro-sim').sim.oscillatorsHz, [24576000, 22579200]);
    assert.equal(b.codec.mclk, undefined, 'no master clock stated unless the board says so');
    assert.equal(b.sim.hostClock, 'provider', 'the host drives the I2S clocks unless the board says otherwise');
  });

  it('reads a board\'s master clock (codec.mclk) and a twin\'s host clock role (sim.hostClock); a twin inherits the real board\'s codec.mclk', () => {
    const real = loadBoard('respeaker-2mic-v2');
    assert.deepEqual({ hz: real.codec.mclk?.hz, from: real.codec.mclk?.from }, { hz: 24576000, from: 'oscillator' });
    const twin = loadBoard('respeaker-2mic-v2-sim');
    assert.deepEqual(twin.codec.mclk, real.codec.mclk);
    assert.equal(twin.sim.hostClock, 'consumer');
    assert.equal(real.sim.hostClock, 'provider');
  });

  it('validates every board file shipped in board/', () => {
    for (const name of listBoardNames()) assert.doesNotThrow(() => loadBoard(name), name);
  });
});
