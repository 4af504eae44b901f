import { StreamClient, type PlugInfo } from '../../stream/client.ts';
import { type StreamEndpoint, clientRuntimeDir, listEndpoints, watchEndpoints } from '../../stream/discovery.ts';
import { type FormatRangeJson, RANGE_FLAG, SAMPLE_FORMAT, formatRangeJson } from '../../audio/formats.ts';
import { type FormatRangeWire, type GainStateWire, STATUS } from '../../stream/wire.ts';
import {
  type CliIO, type Command, EXIT_FAILURE, EXIT_OK, EXIT_UNREACHABLE, num, parseOptions, runtimeDirOption, table, untilSignal,
} from '../command.ts';

export interface StreamListing {
  name: string;
  direction: 'output' | 'input';
  path: string;
  manufacturer: string;
  product: string;
  uniqueId: string;
  clockDomain: number;
  formats: FormatRangeWire[];
  gain: GainStateWire;
  plug: PlugInfo;
  /**
   * External delay (ns) at 48000 and 44100 Hz, where the stream offers the rate; "unknown" where a
   * part of it has no figure (EXT_GET_DELAY_INFO), never a number that counts the unknown as 0.
   */
  externalDelayNs: Record<string, number | 'unknown'>;
  /** The known part (ns) at each rate, and what is unknown there (empty: the delay is complete). */
  externalDelayKnownNs: Record<string, number>;
  externalDelayUnknown: Record<string, string[]>;
}

const FORMAT_NAMES: [number, string][] = [
  [SAMPLE_FORMAT.BITSTREAM, 'bitstream'], [SAMPLE_FORMAT.BIT8, '8'], [SAMPLE_FORMAT.BIT16, '16'], [SAMPLE_FORMAT.BIT20_PACKED, '20p'],
  [SAMPLE_FORMAT.BIT24_PACKED, '24p'], [SAMPLE_FORMAT.BIT20_IN32, '20in32'], [SAMPLE_FORMAT.BIT24_IN32, '24in32'],
  [SAMPLE_FORMAT.BIT32, '32'], [SAMPLE_FORMAT.BIT32_FLOAT, 'float'],
];

/** A listing as --json gives it. */
export function listingJson(l: StreamListing): Omit<StreamListing, 'formats'> & { formats: FormatRangeJson[] } {
  return { ...l, formats: l.formats.map(formatRangeJson) };
}

export function describeRange(r: FormatRangeWire): string {
  const fmts = FORMAT_NAMES.filter(([bit]) => r.sampleFormats & bit).map(([, n]) => n).join('/');
  const ch = r.minChannels === r.maxChannels ? `${r.minChannels}` : `${r.minChannels}-${r.maxChannels}`;
  const rates = r.minFps === r.maxFps ? `${r.minFps}` : `${r.minFps}-${r.maxFps}`;
  const fam = [
    r.flags & RANGE_FLAG.FPS_CONTINUOUS ? 'any' : '',
    r.flags & RANGE_FLAG.FPS_48000_FAMILY ? '48k' : '',
    r.flags & RANGE_FLAG.FPS_44100_FAMILY ? '44.1k' : '',
  ].filter(Boolean).join('+');
  return `${fmts} bit, ${ch} ch, ${rates} Hz${fam && fam !== 'any' ? ` (${fam} family)` : ''}`;
}

export function describeGain(g: GainStateWire): string {
  if (g.gainStep === 0 && g.minGain === 0 && g.maxGain === 0) return 'fixed';
  // The wire carries float32: -20.1 arrives as -20.100000381469727; two decimals say what was meant.
  return `${num(g.curGain)} dB${g.curMute ? ' (muted)' : ''} [${num(g.minGain)}..${num(g.maxGain)} dB, step ${num(g.gainStep, 3)} dB]`;
}

export function describePlug(p: PlugInfo): string {
  if (p.hardwired) return 'hardwired';
  return `${p.plugged ? 'plugged' : 'unplugged'}${p.canNotify ? '' : ' (no notifications)'}`;
}

/** Connects as an observer (never taking the stream from an application) and asks everything. */
export async function queryStream(e: StreamEndpoint, client?: StreamClient): Promise<{ listing: StreamListing; client: StreamClient }> {
  const c = client ?? (await StreamClient.connect(e.path));
  await c.observe();
  const formats = await c.getFormats();
  const externalDelayNs: Record<string, number | 'unknown'> = {};
  const externalDelayKnownNs: Record<string, number> = {};
  const externalDelayUnknown: Record<string, string[]> = {};
  for (const fps of [48000, 44100]) {
    const d = await c.getDelayInfo(fps);
    if (d.result !== STATUS.OK) continue;
    externalDelayNs[fps] = d.unknownCount > 0 ? 'unknown' : d.knownDelayNs;
    externalDelayKnownNs[fps] = d.knownDelayNs;
    externalDelayUnknown[fps] = d.unknownCount > 0 ? d.unknown.split('; ').filter(Boolean) : [];
  }
  const listing: StreamListing = {
    name: e.name, direction: e.direction, path: e.path,
    manufacturer: await c.manufacturer(), product: await c.product(),
    uniqueId: Buffer.from(await c.getUniqueId()).toString('hex'), clockDomain: await c.getClockDomain(),
    formats, gain: await c.getGain(), plug: await c.plugDetect('none'), externalDelayNs, externalDelayKnownNs, externalDelayUnknown,
  };
  return { listing, client: c };
}

function latencyText(l: StreamListing): string {
  const parts = Object.entries(l.externalDelayNs).map(([fps, ns]) => {
    if (ns !== 'unknown') return `${(ns / 1000).toFixed(1)} µs @${Number(fps) / 1000}k`;
    const known = l.externalDelayKnownNs[fps] ?? 0;
    return `unknown${known > 0 ? ` (≥ ${(known / 1000).toFixed(1)} µs)` : ''} @${Number(fps) / 1000}k`;
  });
  return parts.join(', ') || '-';
}

function printListing(io: CliIO, all: StreamListing[]): void {
  io.out(table(['STREAM', 'DIR', 'PLUG', 'GAIN', 'EXTERNAL DELAY', 'PRODUCT'],
    all.map((l) => [l.name, l.direction, describePlug(l.plug), describeGain(l.gain), latencyText(l), l.product])));
  for (const l of all) {
    io.out(`\n${l.name} (${l.manufacturer}; unique id ${l.uniqueId}; clock domain ${l.clockDomain})`);
    for (const r of l.formats) io.out(`  ${describeRange(r)}`);
  }
}

/**
 * `ls --watch`: prints streams as they appear and disappear and, for each, plug and gain changes
 * as the service announces them, until `stop` resolves.
 */
export async function watchStreams(runtimeDir: string, io: CliIO, json: boolean, stop: Promise<unknown>): Promise<void> {
  const clients = new Map<string, StreamClient>();
  const say = (event: string, name: string, data: Record<string, unknown>, text: string) => {
    if (json) io.out(JSON.stringify({ event, stream: name, ...data, ...(data.listing ? { listing: listingJson(data.listing as StreamListing) } : {}) }));
    else io.out(`${new Date().toISOString().slice(11, 23)}  ${name}  ${text}`);
  };
  const attach = async (e: StreamEndpoint) => {
    try {
      const c = await StreamClient.connect(e.path);
      clients.set(e.path, c);
      c.on('plug', (p: PlugInfo) => say('plug', e.name, { plug: p }, `plug: ${describePlug(p)} (at ${(p.plugStateTimeNs / 1e9).toFixed(6)} s)`));
      c.on('gain', (g: GainStateWire) => say('gain', e.name, { gain: g }, `gain: ${describeGain(g)}`));
      await c.observe();
      // Notifications on before the state is read, so no change falls between the two.
      await c.plugDetect('enable');
      await c.gainNotify(true);
      const { listing } = await queryStream(e, c);
      say('added', e.name, { listing }, `appeared: ${e.direction}, ${describePlug(listing.plug)}, gain ${describeGain(listing.gain)}`);
    } catch (err) {
      io.err(`sbc-audio ls: ${e.name}: ${(err as Error).message}`);
    }
  };
  const w = watchEndpoints(runtimeDir, (ev) => {
    if (ev.type === 'added') void attach(ev.endpoint);
    else {
      const c = clients.get(ev.endpoint.path);
      clients.delete(ev.endpoint.path);
      void c?.close().catch(() => {});
      say('removed', ev.endpoint.name, {}, 'disappeared');
    }
  });
  await stop;
  w.close();
  for (const c of clients.values()) await c.close().catch(() => {});
}

export const lsCommand: Command = {
  name: 'ls',
  usage: `usage: sbc-audio ls [--runtime-dir DIR] [--json] [--watch]

Finds the stream endpoints that 'sbc-audio serve' publishes and asks each, over the stream
protocol (docs/PROTOCOL.md), for its formats, gain, plug state, external delay and identity.
It connects as an observer, so it never takes a stream from an application.

  --runtime-dir DIR   where to look (default: $XDG_RUNTIME_DIR/sbc-audio, then /run/sbc-audio: the first with streams)
  --json              machine-readable output (with --watch: one JSON object per line)
  --watch             keep running and print streams appearing and disappearing, and plug and
                      gain changes as they happen, until interrupted (Ctrl-C)

--json: { runtimeDir, streams: [{ name, direction, path, manufacturer, product, uniqueId,
clockDomain, formats: [{ sampleFormats: names ("16", "24-in-32", "32", "float32", ...), minChannels,
maxChannels, minFps, maxFps, rates: ("continuous", "48000-family", "44100-family"), formatFlags }],
gain, plug, externalDelayNs, externalDelayKnownNs, externalDelayUnknown }] }.
exit codes: 0 listed, 1 an endpoint failed to answer, 3 no streams there (or none answering)`,
  async run(argv, io) {
    const { values } = parseOptions(argv, { 'runtime-dir': { type: 'string' }, json: { type: 'boolean' }, watch: { type: 'boolean' } });
    const runtimeDir = runtimeDirOption(values['runtime-dir']) ?? clientRuntimeDir();
    if (values.watch) {
      await watchStreams(runtimeDir, io, Boolean(values.json), untilSignal());
      return EXIT_OK;
    }
    const endpoints = listEndpoints(runtimeDir);
    const listings: StreamListing[] = [];
    let failed = 0;
    for (const e of endpoints) {
      try {
        const { listing, client } = await queryStream(e);
        await client.close();
        listings.push(listing);
      } catch (err) {
        failed++;
        io.err(`sbc-audio ls: ${e.name}: ${(err as Error).message}`);
      }
    }
    if (values.json) io.out(JSON.stringify({ runtimeDir, streams: listings.map(listingJson) }, null, 2));
    else if (endpoints.length === 0) io.err(`sbc-audio ls: no streams under ${runtimeDir} (is 'sbc-audio serve' running?)`);
    else if (listings.length) printListing(io, listings);
    // Nothing served, or nothing answering on any endpoint (stale entries only): the service is not reachable.
    if (endpoints.length === 0 || failed === endpoints.length) return EXIT_UNREACHABLE;
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
};
