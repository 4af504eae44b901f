/** `sbc-audio regs --board X`: the codec's register table with field names, cached and read values. */
import { loadBoard } from '../../board/load.ts';
import { openBoard } from '../../board/runtime.ts';
import type { RegisterState } from '../../codec/regmap.ts';
import { type RegisterRecord, registerRecords } from '../../stream/sim-control.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, boardOption, parseOptions, table } from '../command.ts';

function hex(v: number | null | undefined, digits: number): string {
  return v === undefined || v === null ? '-' : `0x${v.toString(16).padStart(digits, '0')}`;
}

/**
 * The register table `regs` prints (and `sim regs`, whose READ column is the chip model's value:
 * `readHeader`): place, name, access, reset, cached and read values, the fields of the value shown.
 */
export function registerTable(records: readonly RegisterRecord[], valueBits: number, readHeader = 'READ'): string {
  const digits = Math.ceil(valueBits / 4);
  return table(['WHERE', 'NAME', 'ACCESS', 'RESET', 'CACHED', readHeader, 'FIELDS'], records.map((r) => {
    const shown = r.read ?? r.cached;
    const fields = shown === null ? '' : Object.entries(r.fields).map(([k, v]) => `${k}=${v}`).join(' ');
    return [
      r.where, r.name, `${r.access}${r.volatile ? ' volatile' : ''}`,
      r.reset === 'unknown' ? 'unknown' : hex(r.reset, digits), hex(r.cached, digits),
      r.error ? `error: ${r.error}` : hex(r.read, digits), fields,
    ];
  }));
}

export const regsCommand: Command = {
  name: 'regs',
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
    const board = loadBoard((await boardOption(values.board))!);
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
      const records = registerRecords(map, states);
      if (values.json) {
        io.out(JSON.stringify({ board: board.name, part: rt.codec.part, bus: map.bus.name, address: map.addr, registers: records }, null, 2));
        return EXIT_OK;
      }
      io.out(`${board.name}: ${rt.codec.name} at 0x${map.addr.toString(16)} on ${map.bus.name}${values.init ? ' (after probe + init)' : ''}`);
      io.out(registerTable(records, map.def.valueBits));
      return states.some((s) => s.error) ? EXIT_FAILURE : EXIT_OK;
    } finally {
      await rt.close();
    }
  },
};
