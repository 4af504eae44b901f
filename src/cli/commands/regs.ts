/** `sbc-audio regs --board X`: the codec's register table with field names, cached and read values. */
import { loadBoard } from '../../board/load.ts';
import { openBoard } from '../../board/runtime.ts';
import type { RegisterState } from '../../codec/regmap.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, parseOptions, table } from '../command.ts';

function hex(v: number | undefined, digits: number): string {
  return v === undefined ? '-' : `0x${v.toString(16).padStart(digits, '0')}`;
}

export const regsCommand: Command = {
  name: 'regs',
  summary: "the codec's registers: fields, reset, cached and read values",
  usage: `usage: sbc-audio regs --board NAME [--init] [--no-read] [--json]

Prints every register the codec's description declares: where it is (page and offset), name,
access, reset default, the value in the driver's cache, the value read from the chip now, and
the named fields decoded from the read value (or the cached one). Volatile registers are never
cached. Write-only chips show cached values only.

  --board NAME   board name or board file path (required)
  --init         run the driver's probe and init first (changes the chip's state)
  --no-read      do not read the chip (cache only)
  --json         machine-readable output`,
  async run(argv, io) {
    const { values } = parseOptions(argv, { board: { type: 'string' }, init: { type: 'boolean' }, 'no-read': { type: 'boolean' }, json: { type: 'boolean' } });
    if (!values.board) throw new UsageError('--board is required');
    const board = loadBoard(values.board);
    const rt = await openBoard(board);
    try {
      const map = rt.codec.regmap;
      if (!map) {
        io.err(`${board.name}: codec ${rt.codec.part} has no control bus (no registers); see 'sbc-audio info --board ${board.name}'`);
        return EXIT_FAILURE;
      }
      if (values.init) {
        await rt.codec.probe();
        await rt.codec.init();
      }
      const states: RegisterState[] = await map.dump(!values['no-read']);
      const digits = Math.ceil(map.def.valueBits / 4);
      if (values.json) {
        io.out(JSON.stringify({
          board: board.name, part: rt.codec.part, bus: map.bus.name, address: map.addr,
          registers: states.map((s) => ({
            name: s.def.name, addr: s.def.addr, where: s.where, access: s.def.access ?? 'rw', volatile: s.def.volatile ?? false,
            reset: s.def.reset, cached: s.cached ?? null, read: s.read ?? null, error: s.error ?? null,
            fields: map.decode(s.def.name, s.read ?? s.cached ?? 0), source: s.def.source,
          })),
        }, null, 2));
        return EXIT_OK;
      }
      io.out(`${board.name}: ${rt.codec.name} at 0x${map.addr.toString(16)} on ${map.bus.name}${values.init ? ' (after probe + init)' : ''}`);
      io.out(table(['WHERE', 'NAME', 'ACCESS', 'RESET', 'CACHED', 'READ', 'FIELDS'], states.map((s) => {
        const shown = s.read ?? s.cached;
        const fields = shown === undefined || !s.def.fields?.length ? '' : Object.entries(map.decode(s.def.name, shown)).map(([k, v]) => `${k}=${v}`).join(' ');
        return [
          s.where, s.def.name, `${s.def.access ?? 'rw'}${s.def.volatile ? ' volatile' : ''}`,
          s.def.reset === 'unknown' ? 'unknown' : hex(s.def.reset, digits), hex(s.cached, digits),
          s.error ? `error: ${s.error}` : hex(s.read, digits), fields,
        ];
      })));
      return states.some((s) => s.error) ? EXIT_FAILURE : EXIT_OK;
    } finally {
      await rt.close();
    }
  },
};
