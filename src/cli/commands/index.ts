/** Every command of the CLI, in the order `--help` lists them. */
import type { Command } from '../command.ts';
import { boardsCommand } from './boards.ts';
import { infoCommand } from './info.ts';
import { toneCommand } from './tone.ts';

export const COMMANDS: readonly Command[] = [boardsCommand, infoCommand, toneCommand];
