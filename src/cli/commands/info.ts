import { latencyBreakdown } from '../../board/latency.ts';
import { loadBoard } from '../../board/load.ts';
import { openBoard } from '../../board/runtime.ts';
import { componentDescriptors, controlDescriptors } from '../../control/model.ts';
import type { ControlDescriptor } from '../../control/types.ts';
import { describeRange, formatControlValue } from '../../control/values.ts';
import { createSimHal } from '../../hal/sim/index.ts';
import { type Command, EXIT_OK, boardOption, num, parseOptions, rateOption, table } from '../command.ts';

const RATES = [44100, 48000, 96000];

/** A control's default as the table shows it: the value, or "unknown" (the reason is in --json). */
function defaultText(d: ControlDescriptor): string {
  return typeof d.default === 'object' ? 'unknown' : formatControlValue(d, d.default);
}

export const infoCommand: Command = {
  name: 'info',
  usage: `usage: sbc-audio info --board NAME [--json] [--rate HZ]...

Prints the board's codec (part, bus, address), its clocking mode (who drives the I2S clocks, from
what, where the part's driver sets one up), GPIO lines by role, streams, every control as
'sbc-audio serve' would serve it (docs/CONTROL.md: id, kind, range or values, default, whether
it is real-time safe and writable), and the external delay per direction and rate (codec filter
group delay plus the board's analog path) in ns and frames, with the source of every figure.
Reads the board and codec descriptions only; no hardware is touched.
--json: "controls" are the control descriptors (with default sources, percent mappings,
registers, sources), "gainControls" the codec's volumes as its driver reports them,
"descriptors" the board's and its parts' descriptors.

  --board NAME   a board name from 'sbc-audio boards', or a path to a board file
  --rate HZ      rates for the latency breakdown, 8000 to 384000 Hz (default ${RATES.join(', ')}; repeatable)
  --json         machine-readable output`,
  async run(argv, io) {
    const { values } = parseOptions(argv, { board: { type: 'string' }, json: { type: 'boolean' }, rate: { type: 'string', multiple: true } });
    const boardName = (await boardOption(values.board))!;
    const rates = (values.rate ?? []).map((r) => rateOption(r, 0));
    const board = loadBoard(boardName);
    // Descriptions only: a simulated HAL stands in so that no bus or line of the machine is touched.
    const rt = await openBoard(board, { hal: createSimHal() });
    try {
      const codec = rt.codec;
      const directions = [...new Set(board.streams.map((s) => s.direction))];
      const latency = directions.flatMap((d) => (rates.length ? rates : RATES).map((rate) => latencyBreakdown(board, codec, d, rate)));
      const info = {
        board: { name: board.name, description: board.description, manufacturer: board.manufacturer, hal: board.hal, twinOf: board.twinOf ?? null, file: board.file },
        codec: { part: codec.part, name: codec.name, vendor: codec.vendor, bus: board.codec.bus ?? null, address: board.codec.address ?? null, options: board.codec.options },
        clocking: codec.clocking?.() ?? null,
        gpio: Object.entries(board.gpio).map(([role, s]) => ({ role, ...s })),
        streams: board.streams.map((s) => ({ ...s, formats: codec.formats(s.direction) })),
        controls: controlDescriptors(rt),
        gainControls: codec.gainControls(),
        descriptors: componentDescriptors(rt),
        // totalNs: "unknown" where an item has no figure (knownNs is the sum of those that have one).
        latency: latency.map((l) => ({ ...l, totalNs: l.unknown.length ? 'unknown' as const : l.totalNs, knownNs: l.totalNs })),
      };
      if (values.json) {
        io.out(JSON.stringify(info, null, 2));
        return EXIT_OK;
      }
      const hex = (n: number | null) => (n === null ? '-' : `0x${n.toString(16).padStart(2, '0')}`);
      io.out(`${board.name}: ${board.description}\n  file ${board.file}, hal ${board.hal}${board.twinOf ? ` (simulated twin of ${board.twinOf})` : ''}\n`);
      io.out(`Codec: ${codec.name} (${codec.part}, ${codec.vendor})${board.codec.bus !== undefined ? ` on i2c-${board.codec.bus} at ${hex(board.codec.address ?? null)}` : ' (no control bus)'}\n`);
      io.out(info.clocking
        ? `Clocking: ${info.clocking.mode} (clock master: ${info.clocking.clockMaster === 'host' ? 'the host' : 'the codec'}): ${info.clocking.detail}\n`
        : `Clocking: not set up by the ${codec.part} driver (no clocking mode)\n`);
      if (info.gpio.length) {
        io.out(table(['GPIO ROLE', 'CHIP', 'LINE', 'ACTIVE-LOW', 'BIAS', 'DEBOUNCE µs'], info.gpio.map((g) => [g.role, g.chip, g.line, g.activeLow ? 'yes' : 'no', g.bias, g.debounceUs])) + '\n');
      }
      io.out(table(['STREAM', 'DIRECTION', 'PURPOSE', 'PCM', 'PLUG'], board.streams.map((s) => [s.id, s.direction, s.purpose, s.pcm, s.plug])) + '\n');
      io.out(info.controls.length
        ? table(['ID', 'KIND', 'RANGE/VALUES', 'DEFAULT', 'RT-SAFE', 'WRITABLE'],
          info.controls.map((c) => [c.id, c.kind, describeRange(c), defaultText(c), c.realtimeSafe ? 'yes' : 'no', c.writable ? 'yes' : 'no'])) + '\n'
        : 'Controls: none (the part has no controls and the board no lines)\n');
      // Each direction and rate: its total, then its items with the time and the frames right-aligned
      // in columns as wide as the widest of any rate, so that the figures line up down the page.
      io.out('External delay (outside the PCM buffer):');
      const items = latency.flatMap((l) => l.items);
      const nsText = (ns: number | null) => (ns === null ? 'unknown' : `${num(ns, 0)} ns`);
      const framesText = (f: number | null) => (f === null ? '' : `${f.toFixed(2)} frames`); // fixed decimals: the points line up
      const nsW = Math.max(0, ...items.map((i) => nsText(i.ns).length));
      const framesW = Math.max(0, ...items.map((i) => framesText(i.frames).length));
      for (const l of latency) {
        const frames = num((l.totalNs * l.rate) / 1e9);
        const total = l.unknown.length
          ? `unknown (known part ${num(l.totalNs, 0)} ns = ${frames} frames; no figure for: ${l.unknown.join('; ')})`
          : `${num(l.totalNs, 0)} ns = ${frames} frames`;
        io.out(`  ${l.direction} at ${l.rate} Hz: ${total}`);
        for (const i of l.items) io.out(`    ${nsText(i.ns).padStart(nsW)}  ${framesText(i.frames).padStart(framesW)}  ${i.what}  [${i.source}]`);
      }
      return EXIT_OK;
    } finally {
      await rt.close();
    }
  },
};
