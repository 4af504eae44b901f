/** Every command of the CLI, in the order `--help` lists them. */
import type { Command } from '../command.ts';
import { boardsCommand } from './boards.ts';
import { codecCommand } from './codec.ts';
import { conformanceCommand } from './conformance.ts';
import { ctlCommand } from './ctl.ts';
import { doctorCommand } from './doctor.ts';
import { gainCommand } from './gain.ts';
import { infoCommand } from './info.ts';
import { lsCommand } from './ls.ts';
import { playCommand } from './play.ts';
import { configureCommand, programCommand } from './program.ts';
import { midiCommand } from './midi.ts';
import { recordCommand } from './record.ts';
import { regsCommand } from './regs.ts';
import { runCommand } from './run.ts';
import { serveCommand } from './serve.ts';
import { setupCommand } from './setup.ts';
import { simCommand } from './sim.ts';
import { toneCommand } from './tone.ts';

export const COMMANDS: readonly Command[] = [
  boardsCommand, infoCommand, regsCommand, codecCommand, toneCommand, runCommand,
  serveCommand, lsCommand, ctlCommand, gainCommand, programCommand, configureCommand, midiCommand, playCommand, recordCommand, conformanceCommand, simCommand, doctorCommand, setupCommand,
];
