/**
 * Every command of the CLI, in the order `--help` lists them: its name, its one-line summary (here
 * only) and a loader. A command's module, and whatever it imports (koffi, the stream service, the
 * web server, mqtt), is loaded only when that command runs: `sbc-audio --help` loads none of them.
 */
import type { Command, CommandEntry } from '../command.ts';

/** Command modules loaded in this process (tests check that `--help` loads none). */
export const commandLoads = { count: 0 };

function entry(name: string, summary: string, load: () => Promise<Command>): CommandEntry {
  return { name, summary, load: () => { commandLoads.count++; return load(); } };
}

export const COMMANDS: readonly CommandEntry[] = [
  entry('boards', 'list the board files in board/', async () => (await import('./boards.ts')).boardsCommand),
  entry('info', "a board's devices, controls and latency breakdown", async () => (await import('./info.ts')).infoCommand),
  entry('regs', "the codec's registers: fields, reset, cached and read values", async () => (await import('./regs.ts')).regsCommand),
  entry('codec', 'codec description tools (check)', async () => (await import('./codec.ts')).codecCommand),
  entry('tone', 'play a sine tone through a board (through the HAL: codec, GPIO and PCM)', async () => (await import('./tone.ts')).toneCommand),
  entry('run', 'run a host module on the real-time engine (the driver pulls its process() every period)', async () => (await import('./run.ts')).runCommand),
  entry('serve', "publish a board's streams to other processes (the Zircon audio stream protocol)", async () => (await import('./serve.ts')).serveCommand),
  entry('ls', 'list the streams being served: formats, gain, plug state, latency (--watch: live changes)', async () => (await import('./ls.ts')).lsCommand),
  entry('ctl', "list, read, set and watch a served board's controls (amixer-like, through the control channel)", async () => (await import('./ctl.ts')).ctlCommand),
  entry('gain', "read or set a served stream's gain and mute (amixer-like; through the control channel)", async () => (await import('./gain.ts')).gainCommand),
  entry('program', "list, load and save a served board's programs (built-in filter/DSP programs, user presets)", async () => (await import('./program.ts')).programCommand),
  entry('configure', "list and set a served board's configure keys (ramp time, idle power-down, codec options)", async () => (await import('./program.ts')).configureCommand),
  entry('plugins', 'list the installed LADSPA plugins: labels, ids, real-time capability, ports with hints, bounds and defaults', async () => (await import('./plugins.ts')).pluginsCommand),
  entry('midi', "a served board's knobs: MIDI mappings, learn mode, connections, the encoder", async () => (await import('./midi.ts')).midiCommand),
  entry('play', 'play a WAV file (or stdin) or a tone through a served output stream (a stream protocol client)', async () => (await import('./play.ts')).playCommand),
  entry('record', 'record a served input stream into a WAV file or stdout (a stream protocol client)', async () => (await import('./record.ts')).recordCommand),
  entry('conformance', 'check a live stream endpoint against the protocol rules (docs/PROTOCOL.md), rule by rule', async () => (await import('./conformance.ts')).conformanceCommand),
  entry('sim', 'drive a served simulated board from another process: jack, I2C faults, stalls, chip registers, state, encoder, MIDI', async () => (await import('./sim.ts')).simCommand),
  entry('doctor', 'checks what a board needs from this machine, each with its fix', async () => (await import('./doctor.ts')).doctorCommand),
  entry('setup', 'prepares a Raspberry Pi for a board: overlay, config.txt, i2c-dev, the service, the ALSA name sbc-audio (--dry-run | --apply; --remove)', async () => (await import('./setup.ts')).setupCommand),
];
