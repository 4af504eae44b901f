/**
 * Driver of the stand-in "sim-codec" (see model.ts for its register map). A made-up part so the
 * sim board runs the whole stack before real codecs exist; it is named as a simulation everywhere.
 */
import type { CodecContext, CodecDriver, FormatRange, GainControlInfo, GainState, LatencyItem, StreamFormat } from '../../src/codec/types.ts';
import { I2cRegisterDevice } from '../../src/hal/i2c.ts';

const CHIP_ID = 0x00, VOL_L = 0x01, VOL_R = 0x02, POWER = 0x03, FORMAT = 0x04, RATE = 0x05;
const MUTE_CODE = 0xff;
const SOURCE = 'codecs/sim-codec/model.ts (stand-in part, no datasheet)';

const MAIN: GainControlInfo = {
  name: 'Digital Playback Volume', direction: 'output', minDb: -127, maxDb: 0, stepDb: 0.5, canMute: true, main: true, source: SOURCE,
};

export class SimCodecDriver implements CodecDriver {
  readonly part = 'sim-codec';
  readonly name = 'Simulated stand-in codec';
  readonly vendor = 'sbc-audio (simulation)';
  private readonly dev: I2cRegisterDevice;
  private gain: GainState = { db: 0, muted: true };

  constructor(private readonly ctx: CodecContext) {
    if (!ctx.bus || ctx.addr === undefined) throw new Error('sim-codec needs codec.bus and codec.address in the board file');
    this.dev = new I2cRegisterDevice(ctx.bus, ctx.addr, { addrBits: 8, valueBits: 8 });
  }

  async probe(): Promise<void> {
    const id = await this.dev.read(CHIP_ID);
    if (id !== 0x5a) throw new Error(`sim-codec: chip id 0x${id.toString(16)} at 0x${this.ctx.addr!.toString(16)}, expected 0x5a`);
  }

  async init(): Promise<void> {
    await this.writeVolume();
  }

  async setFormat(fmt: StreamFormat): Promise<void> {
    const code = { 16: 0, 20: 1, 24: 2, 32: 3 }[fmt.bits];
    if (code === undefined) throw new Error(`sim-codec: unsupported width ${fmt.bits} bits`);
    await this.dev.write(FORMAT, code);
    await this.dev.write(RATE, Math.round(fmt.rate / 1000));
  }

  async powerUp(): Promise<void> {
    await this.dev.write(POWER, 0x03);
    const amp = this.ctx.gpio.get('amp-enable');
    amp?.request.setValue(amp.offset, 1); // the amplifier only after the codec is ready
  }

  async powerDown(): Promise<void> {
    const amp = this.ctx.gpio.get('amp-enable');
    amp?.request.setValue(amp.offset, 0); // the amplifier first, so the codec's power-down is not heard
    await this.dev.write(POWER, 0x00);
  }

  gainControls(): GainControlInfo[] {
    return [MAIN];
  }

  private checkControl(name: string): void {
    if (name !== MAIN.name) throw new Error(`sim-codec: no gain control "${name}" (it has "${MAIN.name}")`);
  }

  /** dB → register code, rounding to the step with ties toward the lower gain. */
  private code(db: number): number {
    const clamped = Math.min(MAIN.maxDb, Math.max(MAIN.minDb, db));
    return Math.floor(-clamped / MAIN.stepDb + 0.5);
  }

  private async writeVolume(): Promise<void> {
    const v = this.gain.muted ? MUTE_CODE : this.code(this.gain.db);
    await this.dev.write(VOL_L, v);
    await this.dev.write(VOL_R, v);
  }

  async setGain(name: string, db: number): Promise<GainState> {
    this.checkControl(name);
    this.gain = { db: -this.code(db) * MAIN.stepDb, muted: this.gain.muted };
    await this.writeVolume();
    return { ...this.gain };
  }

  async setMute(name: string, muted: boolean): Promise<GainState> {
    this.checkControl(name);
    this.gain = { ...this.gain, muted };
    await this.writeVolume();
    return { ...this.gain };
  }

  async getGain(name: string): Promise<GainState> {
    this.checkControl(name);
    return { ...this.gain };
  }

  formats(_direction: 'output' | 'input'): FormatRange[] {
    // 16-bit and 24-in-32 at 8..192 kHz in both rate families, 1..2 channels.
    const S16 = 1 << 2, S24_IN32 = 1 << 7, FAMILY_48K = 1 << 1, FAMILY_44K = 1 << 2;
    return [
      { sampleFormats: S16 | S24_IN32, minFps: 8000, maxFps: 192000, minChannels: 1, maxChannels: 2, flags: FAMILY_48K },
      { sampleFormats: S16 | S24_IN32, minFps: 11025, maxFps: 176400, minChannels: 1, maxChannels: 2, flags: FAMILY_44K },
    ];
  }

  latency(direction: 'output' | 'input', rate: number): LatencyItem[] {
    const frames = direction === 'output' ? 8 : 6;
    return [{
      what: `${direction === 'output' ? 'DAC' : 'ADC'} filter group delay (simulated figure)`,
      frames, ns: (frames * 1e9) / rate, source: SOURCE,
    }];
  }
}
