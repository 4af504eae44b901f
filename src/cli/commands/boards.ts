import { loadBoard, listBoardNames } from '../../board/load.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, parseOptions, table } from '../command.ts';

export const boardsCommand: Command = {
  name: 'boards',
  usage: `usage: sbc-audio boards [--json]

Lists every board file in board/ with its codec, HAL (linux = real hardware, sim = simulated)
and streams. A board that fails validation is listed with its error.`,
  async run(argv, io) {
    const { values } = parseOptions(argv, { json: { type: 'boolean' } });
    let failed = false;
    const rows = listBoardNames().map((name) => {
      try {
        const b = loadBoard(name);
        return { name, hal: b.hal, codec: b.codec.part, twinOf: b.twinOf ?? null, streams: b.streams.map((s) => `${s.id}:${s.direction}`), description: b.description, error: null };
      } catch (e) {
        failed = true;
        return { name, hal: '?', codec: '?', twinOf: null, streams: [], description: '', error: (e as Error).message };
      }
    });
    if (values.json) io.out(JSON.stringify(rows, null, 2));
    else {
      io.out(table(['BOARD', 'HAL', 'CODEC', 'STREAMS', 'DESCRIPTION'], rows.map((r) => [
        r.name, r.hal, r.codec, r.streams.join(' '), r.error ? `INVALID: ${r.error}` : r.description.split('.')[0]!,
      ])));
    }
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
};
