/**
 * Cirrus Logic CS4271: stereo audio codec with an I2C control port, registers 0x01..0x08.
 *
 * Every figure below is one of the facts in codecs/cs4271/FACTS.md (the bring-up and the reset
 * defaults are K's, Linux cs4271.c). The bring-up (codecs/cs4271/FACTS.md#bring-up), as data:
 *  - init: nRESET low then high where a board wires it (optional); MODE2 = 0x03 (control port
 *    enable + power down), then 0x02, and the 85 µs wait; MODE1 = 0x01 (single speed, slave, MCLK
 *    256/384/512fs, I2S); ADCCTL = 0x10 (ADC I2S); the volumes held muted (VOLA/VOLB bit 7);
 *  - powerUp: out of power down (MODE2 bit 0, after a powerDown) with its 85 µs, then unmuted;
 *  - powerDown: muted, then power down (MODE2 bit 0 = 1, as in the bring-up's 0x03).
 * What stays unknown, and is said where it applies: the addresses of DACCTL (reset 0x80) and
 * DACVOL (reset 0x29) — the facts give their defaults, not where they sit —, MODE1 codes other
 * than 0x01, the sample widths (a board supplies them), the nRESET pulse width, the input side's
 * formats, the CS4271's latency (the facts give the CS4270's, a different part: not used).
 */
import { RANGE_FLAG } from '../../src/audio/formats.ts';
import type { CodecDescription } from '../../src/codec/description.ts';

const F = {
  bus: 'codecs/cs4271/FACTS.md#bus-and-registers',
  vol: 'codecs/cs4271/FACTS.md#volume',
  formats: 'codecs/cs4271/FACTS.md#formats-and-rates',
  latency: 'codecs/cs4271/FACTS.md#latency',
  bringup: 'codecs/cs4271/FACTS.md#bring-up',
  resets: 'codecs/cs4271/FACTS.md#reset-defaults',
} as const;
const SRC = {
  wire: `${F.bus}: CS4271 I2C 0x10; registers 0x01-0x08 (8-bit register numbers; 8-bit values: the volume registers use bits 7..0)`,
  vol: `${F.vol}: VOLA 0x04 / VOLB 0x05 [6:0]: 0 .. -127 dB in 1 dB steps; bit 7 mute; ${F.bringup}: step 5, bit 7 = 0 unmuted; reset 0 (${F.resets})`,
  mode1: `${F.bringup}: step 3, MODE1 0x01 = 0x01 (single speed, slave, MCLK 256/384/512fs, I2S); reset 0 (${F.resets})`,
  adcctl: `${F.bringup}: step 4, ADCCTL 0x06 = 0x10 (ADC I2S); reset 0 (${F.resets})`,
  mode2: `${F.bringup}: step 2, MODE2 0x07 = 0x03 (control port enable + power down), then 0x02; wait 85 µs; reset 0 (${F.resets})`,
  unnamed: `${F.bus}: a register of 0x01-0x08; ${F.resets}: DACCTL (reset 0x80) and DACVOL (reset 0x29) are among the defaults, but which address each has is not among the facts`,
  volatile: `${F.resets}: volatile (its meaning and reset value are not among the facts)`,
  settle: `${F.bringup}: step 2, wait 85 µs`,
  reset: `${F.bringup}: step 1, optional: nRESET low, then high`,
  formats: `${F.formats}: 8-192 kHz; I2S or left-justified only (K); stereo (volume A and B)`,
};
const NOT_AMONG_FACTS = 'not among the collected facts (codecs/cs4271/FACTS.md)';

const S_UNKNOWN = 0;
const WIDTHS_UNKNOWN = `the CS4271's sample widths are ${NOT_AMONG_FACTS}`;
const VOL_FIELDS = [{ name: 'MUTE', bits: 7, doc: '1 = muted' }, { name: 'VOL', bits: [6, 0] as const, doc: 'attenuation, 1 dB per code' }];

export const description: CodecDescription = {
  meta: {
    id: 'cs4271',
    name: 'CS4271 stereo codec',
    vendor: 'Cirrus Logic',
    datasheet: 'Cirrus Logic CS4271 datasheet (figures via codecs/cs4271/FACTS.md)',
  },

  regmap: {
    addrBits: 8,
    valueBits: 8,
    source: SRC.wire,
    registers: [
      { name: 'MODE1', addr: 0x01, reset: 0x00, source: SRC.mode1, doc: '0x01 = single speed, slave, MCLK 256/384/512fs, I2S (other codes not among the facts)' },
      { name: 'R02', addr: 0x02, reset: 'unknown', source: SRC.unnamed, doc: 'never written' },
      { name: 'R03', addr: 0x03, reset: 'unknown', source: SRC.unnamed, doc: 'never written' },
      { name: 'VOLA', addr: 0x04, reset: 0x00, source: SRC.vol, doc: 'channel A (left) DAC volume', fields: VOL_FIELDS },
      { name: 'VOLB', addr: 0x05, reset: 0x00, source: SRC.vol, doc: 'channel B (right) DAC volume', fields: VOL_FIELDS },
      { name: 'ADCCTL', addr: 0x06, reset: 0x00, source: SRC.adcctl, doc: '0x10 = ADC I2S' },
      { name: 'MODE2', addr: 0x07, reset: 0x00, source: SRC.mode2,
        fields: [{ name: 'CPEN', bits: 1, doc: 'control port enable (0x02)' }, { name: 'PDN', bits: 0, doc: 'power down (0x01)' }] },
      { name: 'R08', addr: 0x08, reset: 'unknown', volatile: true, source: SRC.volatile },
    ],
  },

  probe: { reg: 'VOLA', why: 'the chip answers on its address (no identity among the facts)' },
  controls: [
    {
      name: 'Digital Playback Volume', kind: 'volume', direction: 'output', main: true,
      channels: [{ reg: 'VOLA', field: 'VOL' }, { reg: 'VOLB', field: 'VOL' }],
      min: 0, max: 127, default: 0, unit: 'dB', stepDb: 1,
      scale: [{ from: 0, to: 127, db: 0, stepDb: -1 }],
      muteField: 'MUTE',
      source: SRC.vol,
    },
  ],

  formats: [
    { direction: 'output', source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 8000, maxFps: 192000, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_48000_FAMILY } },
    { direction: 'output', source: SRC.formats, sampleFormatsUnknown: WIDTHS_UNKNOWN,
      range: { sampleFormats: S_UNKNOWN, minFps: 11025, maxFps: 176400, minChannels: 2, maxChannels: 2, flags: RANGE_FLAG.FPS_44100_FAMILY } },
  ],

  clocks: {
    mclk: { value: 'required', source: `${SRC.mode1}: MCLK at 256, 384 or 512 × the rate` },
    notes: [{ text: 'the codec is an I2S slave (MODE1 = 0x01): the host drives the bit and frame clocks', source: SRC.mode1 }],
  },

  gpioRoles: {
    reset: 'nRESET (logical 1 = held in reset): pulsed low then high at init where the board wires it (optional)',
  },

  options: {
    sampleBits: 'the sample widths the board uses, { "bits": [...], "source": "..." }: the CS4271 widths are not among the facts',
    groupDelay: 'a delay figure the facts lack: { "frames": N } or { "ns": N } with "source"',
  },

  sequences: {
    init: [
      { op: 'gpio', role: 'reset', value: 1, optional: true, why: 'step 1: nRESET low (held in reset)' },
      { op: 'unknown', what: 'hold nRESET low for the chip\'s minimum pulse width', why: `the pulse width is ${NOT_AMONG_FACTS}` },
      { op: 'gpio', role: 'reset', value: 0, optional: true, why: 'step 1: nRESET high' },
      { op: 'write', reg: 'MODE2', value: 0x03, why: 'step 2: control port enable + power down (MODE2 = 0x03)' },
      { op: 'write', reg: 'MODE2', value: 0x02, why: 'step 2: then 0x02 (out of power down, control port kept)' },
      { op: 'delay', ms: 0.085, source: SRC.settle, why: 'step 2: 85 µs' },
      { op: 'write', reg: 'MODE1', value: 0x01, why: 'step 3: single speed, slave, MCLK 256/384/512fs, I2S' },
      { op: 'write', reg: 'ADCCTL', value: 0x10, why: 'step 4: ADC I2S' },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'mute bits (VOLA/VOLB bit 7) until power-up' },
      { op: 'set-gain', control: 'Digital Playback Volume', db: 0, why: 'stream gain 0 dB, written on release' },
    ],
    powerUp: [
      { op: 'update', reg: 'MODE2', fields: { CPEN: 1, PDN: 0 }, why: 'out of power down (MODE2 = 0x02), where a power-down put it' },
      { op: 'delay', ms: 0.085, source: SRC.settle, why: '85 µs after leaving power down' },
      { op: 'mute-control', control: 'Digital Playback Volume', muted: false, why: 'step 5: mute bits clear, the stream gain back' },
    ],
    powerDown: [
      { op: 'mute-control', control: 'Digital Playback Volume', muted: true, why: 'mute bits set first' },
      { op: 'update', reg: 'MODE2', fields: { CPEN: 1, PDN: 1 }, why: 'power down (MODE2 = 0x03, as in step 2)' },
    ],
  },

  latency: {
    output: { what: 'DAC group delay', defaultMode: 'default',
      modes: { default: { unknown: `CS4271 latency unverified (${F.latency}; its CS4270 figure, 10/fs, is for another part): a board file may supply codec.options.groupDelay` } } },
  },
};
