/**
 * What the HIL environment offers the suite: which I2C bus and addresses, which GPIO chip and
 * lines, which ALSA devices. Filled from an env file of KEY=VALUE lines named by $SBC_HIL_ENV:
 * the QEMU guest writes /tmp/hil.env (tests/hil/guest-init.sh); on a real board the user writes
 * one (docs/hil.md, tests/hil/board.env.example). Variables already in the process environment
 * override the file.
 *
 * Tests skip (never pass) what the environment does not provide.
 */
import { readFileSync } from 'node:fs';

export type HilTier = 'guest' | 'board';

export interface HilEnv {
  tier: HilTier;
  i2c?: {
    bus: number;
    /** A device that behaves as a plain register file (guest: i2c-stub at 0x50). */
    regFileAddr?: number;
    /** An address where nothing answers. */
    emptyAddr?: number;
    /** The adapter speaks SMBus only (no I2C_RDWR), as i2c-stub does. */
    smbusOnly: boolean;
    /** Simulated or real PCM5122s (page select in register 0). */
    pcm5122Addrs: number[];
    tlv320aic3104Addr?: number;
    /** A plain register file standing in for a WM8960 (7/9-bit writes land at byte register A<<1 | D8). */
    wm8960Addr?: number;
    /** A real device to probe on a board (e.g. the codec), read-only checks only. */
    probeAddr?: number;
  };
  gpio?: {
    /** Device name, e.g. 'gpiochip0'. */
    chip: string;
    label?: string;
    lines?: number;
    /** A line the outside world drives and the suite reads (board: wired to peerOutput). */
    input: number;
    /** A line the suite drives and the outside world reads (board: wired to peerInput). */
    output: number;
    input2?: number;
    output2?: number;
    /** Known line names and their offsets, for lookup by name. */
    names: Map<string, number>;
    /** Guest only: gpio-sim's sysfs directory of the chip (…/sim_gpioN/pull, value). */
    simDir?: string;
    /** Board only: the line wired to `input`, driven by libgpiod's gpioset. */
    peerOutput?: number;
    /** Board only: the line wired to `output`, read by libgpiod's gpioget. */
    peerInput?: number;
  };
  alsa: {
    loopbackPlayback?: string;
    loopbackCapture?: string;
    dummy?: string;
    /** Board: the codec's PCM device, e.g. 'hw:0,0'. */
    boardPlayback?: string;
    /** Guest: the card standing in for the board's DAC (a second snd-aloop card, id SimDac). */
    dacCard?: string;
    /** Guest: where the board plays (hw:SimDac,0,0) and where tests capture what it played (hw:SimDac,1,0). */
    dacPlayback?: string;
    dacCapture?: string;
  };
  /**
   * Guest: the host's /usr, shared read-only, with the players the project did not write (mpd, mpc,
   * snapserver, snapclient, squeezelite); they run with `ldLibraryPath` (tests/hil/peers.ts hostProgram).
   */
  hostUsr?: {
    root: string;
    ldLibraryPath: string;
  };
}

/** Parses KEY=VALUE lines (# comments, optional quotes). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if (/^(['"]).*\1$/.test(value)) value = value.slice(1, -1);
    out[line.slice(0, eq).trim()] = value;
  }
  return out;
}

function int(v: string | undefined): number | undefined {
  if (v === undefined || v === '') return undefined;
  const n = Number(v); // accepts 0x.. as well
  if (!Number.isInteger(n)) throw new Error(`HIL env: not an integer: ${v}`);
  return n;
}

function ints(v: string | undefined): number[] {
  return v ? v.split(',').map((s) => int(s.trim())!).filter((n) => n !== undefined) : [];
}

export function hilEnvFrom(vars: Record<string, string | undefined>): HilEnv {
  const tier: HilTier = vars.SBC_HIL_TIER === 'guest' ? 'guest' : 'board';
  const env: HilEnv = { tier, alsa: {} };
  const bus = int(vars.SBC_HIL_I2C_BUS);
  if (bus !== undefined) {
    env.i2c = {
      bus,
      regFileAddr: int(vars.SBC_HIL_I2C_REGFILE_ADDR),
      emptyAddr: int(vars.SBC_HIL_I2C_EMPTY_ADDR),
      smbusOnly: vars.SBC_HIL_I2C_SMBUS_ONLY === '1',
      pcm5122Addrs: ints(vars.SBC_HIL_I2C_PCM5122_ADDRS),
      tlv320aic3104Addr: int(vars.SBC_HIL_I2C_TLV320AIC3104_ADDR),
      wm8960Addr: int(vars.SBC_HIL_I2C_WM8960_ADDR),
      probeAddr: int(vars.SBC_HIL_I2C_PROBE_ADDR),
    };
  }
  const input = int(vars.SBC_HIL_GPIO_INPUT);
  const output = int(vars.SBC_HIL_GPIO_OUTPUT);
  if (vars.SBC_HIL_GPIO_CHIP && input !== undefined && output !== undefined) {
    const names = new Map<string, number>();
    for (const pair of (vars.SBC_HIL_GPIO_NAMES ?? '').split(',').filter(Boolean)) {
      const [name, offset] = pair.split(':');
      names.set(name!, int(offset)!);
    }
    env.gpio = {
      chip: vars.SBC_HIL_GPIO_CHIP,
      label: vars.SBC_HIL_GPIO_LABEL,
      lines: int(vars.SBC_HIL_GPIO_LINES),
      input,
      output,
      input2: int(vars.SBC_HIL_GPIO_INPUT2),
      output2: int(vars.SBC_HIL_GPIO_OUTPUT2),
      names,
      simDir: vars.SBC_HIL_GPIO_SIM_DIR,
      peerOutput: int(vars.SBC_HIL_GPIO_PEER_OUTPUT),
      peerInput: int(vars.SBC_HIL_GPIO_PEER_INPUT),
    };
  }
  env.alsa = {
    loopbackPlayback: vars.SBC_HIL_ALSA_LOOPBACK_PLAYBACK,
    loopbackCapture: vars.SBC_HIL_ALSA_LOOPBACK_CAPTURE,
    dummy: vars.SBC_HIL_ALSA_DUMMY,
    boardPlayback: vars.SBC_HIL_ALSA_BOARD_PLAYBACK,
    dacCard: vars.SBC_HIL_DAC_CARD,
    dacPlayback: vars.SBC_HIL_DAC_PLAYBACK,
    dacCapture: vars.SBC_HIL_DAC_CAPTURE,
  };
  if (vars.SBC_HIL_HOST_USR && vars.SBC_HIL_HOST_LD_LIBRARY_PATH) {
    env.hostUsr = { root: vars.SBC_HIL_HOST_USR, ldLibraryPath: vars.SBC_HIL_HOST_LD_LIBRARY_PATH };
  }
  return env;
}

let loaded: HilEnv | undefined;

/** The environment of this run ($SBC_HIL_ENV file, overridden by process variables). */
export function hilEnv(): HilEnv {
  if (loaded) return loaded;
  const file = process.env.SBC_HIL_ENV;
  const fromFile = file ? parseEnvFile(readFileSync(file, 'utf8')) : {};
  const fromProcess = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('SBC_HIL_')));
  loaded = hilEnvFrom({ ...fromFile, ...fromProcess });
  return loaded;
}
