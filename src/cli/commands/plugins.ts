import { type LadspaPluginInfo, type LadspaPortInfo, LadspaError, findLibrary, ladspaSearchPath, listAll, listLibrary, openPlugin, portDefault } from '../../dsp/ladspa.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, num, parseOptions } from '../command.ts';

/** Rate the bounds of sample-rate ports are shown at in the text output (the JSON has the raw values). */
const SHOWN_RATE = 48000;

export const pluginsCommand: Command = {
  name: 'plugins',
  usage: `usage: sbc-audio plugins [--json] [--ladspa-path DIRS] [LIBRARY [LABEL]]

Lists the LADSPA plugins installed (as ladspa-sdk's listplugins and analyseplugin do): per library,
each plugin's label, unique id, name and whether it is hard real-time capable (the engine runs only
those). With LIBRARY (a file name in the plugin directories, e.g. cmt.so or amp_1181), every plugin
of that library with its ports: direction, type, hints (toggled, logarithmic, integer, sample-rate),
bounds and default; with LABEL, that plugin only. Bounds and defaults of sample-rate ports are shown
as a fraction of the rate and at ${SHOWN_RATE} Hz.
The plugin directories: --ladspa-path, else LADSPA_PATH, else /usr/local/lib/ladspa and
/usr/lib/ladspa. A library that cannot be loaded is listed with its error (exit 1).

  --ladspa-path DIRS  colon-separated absolute directories to search instead
  --json              an array of plugins (library, index, uniqueId, label, name, maker, copyright,
                      realtime, inplaceBroken, hardRtCapable, ports with bounds as in the
                      descriptor), plus {library, error} for each library that failed`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, { json: { type: 'boolean' }, 'ladspa-path': { type: 'string' } }, true);
    if (positionals.length > 2) throw new UsageError(`unexpected argument "${positionals[2]}" (give at most LIBRARY and LABEL)`);
    const given = values['ladspa-path'];
    if (given !== undefined) {
      const dirs = given.split(':').filter((d) => d !== '');
      const relative = dirs.find((d) => !d.startsWith('/'));
      if (dirs.length === 0 || relative !== undefined) throw new UsageError(`--ladspa-path must be colon-separated absolute directories, got "${given}"`);
    }
    const searchPath = given !== undefined ? ladspaSearchPath({ LADSPA_PATH: given }) : ladspaSearchPath(process.env);
    const [libraryName, label] = positionals;

    let libraries: { library: string; plugins: LadspaPluginInfo[]; error?: string }[];
    if (libraryName === undefined) libraries = listAll(searchPath);
    else {
      let library: string;
      try {
        library = findLibrary(libraryName, searchPath);
      } catch (e) {
        if (e instanceof LadspaError && e.code === 'invalid-argument') throw new UsageError(e.message);
        throw e;
      }
      // A library named on the command line that fails is an error of this command (exit 1).
      libraries = [{ library, plugins: label === undefined ? listLibrary(library) : [openPlugin(library, label).info] }];
    }
    const failed = libraries.some((l) => l.error !== undefined);

    if (values.json) {
      const out: (LadspaPluginInfo | { library: string; error: string })[] = libraries.flatMap<LadspaPluginInfo | { library: string; error: string }>((l) => (l.error !== undefined ? [{ library: l.library, error: l.error }] : l.plugins));
      io.out(JSON.stringify(out, null, 2));
      return failed ? EXIT_FAILURE : EXIT_OK;
    }
    if (libraries.length === 0) {
      io.out(`no LADSPA libraries in ${searchPath.join(', ') || '(no directory)'}`);
      return EXIT_OK;
    }
    const detailed = libraryName !== undefined;
    const blocks = libraries.map((l) => {
      if (l.error !== undefined) return `${l.library}\n  ERROR: ${l.error}`;
      return [l.library, ...l.plugins.map((p) => (detailed ? pluginDetail(p) : `  ${pluginLine(p)}`))].join('\n');
    });
    io.out(blocks.join('\n\n'));
    return failed ? EXIT_FAILURE : EXIT_OK;
  },
};

function rtText(p: LadspaPluginInfo): string {
  const parts = [p.hardRtCapable ? 'hard-RT' : 'not hard-RT'];
  if (p.realtime) parts.push('must run real-time');
  if (p.inplaceBroken) parts.push('in-place broken');
  return parts.join(', ');
}

function pluginLine(p: LadspaPluginInfo): string {
  return `${p.label}  ${p.uniqueId}  ${p.name}  (${rtText(p)})`;
}

/** A bound or default: the raw value, and for a sample-rate port that × rate at SHOWN_RATE. */
function valueText(v: number | undefined, port: LadspaPortInfo): string {
  if (v === undefined) return '...';
  return port.sampleRate ? `${num(v, 6)}*rate (${num(v * SHOWN_RATE, 2)} Hz at ${SHOWN_RATE})` : num(v, 6);
}

function defaultText(port: LadspaPortInfo): string | undefined {
  const h = port.defaultHint;
  if (h === 'none') return undefined;
  if (h === '0' || h === '1' || h === '100' || h === '440') return `default ${h}`;
  // Computed as ladspa.h says (portDefault) at rate 1: for a sample-rate port that is the fraction
  // of the rate (rounded only once × rate, so not here).
  const shown = portDefault({ ...port, integer: port.integer && !port.sampleRate }, 1);
  if (shown === undefined) return `default ${h} (missing bound)`;
  return `default ${valueText(shown, port)} (${h})`;
}

function portLine(port: LadspaPortInfo): string {
  const items = [`${port.direction} ${port.type}`];
  if (port.boundedBelow || port.boundedAbove) items.push(`${valueText(port.lower, port)} to ${valueText(port.upper, port)}`);
  const d = defaultText(port);
  if (d) items.push(d);
  for (const [flag, word] of [[port.toggled, 'toggled'], [port.logarithmic, 'logarithmic'], [port.integer, 'integer'], [port.sampleRate, 'sample-rate']] as const) {
    if (flag) items.push(word);
  }
  return `    ${String(port.index).padStart(2)} "${port.name}": ${items.join(', ')}`;
}

function pluginDetail(p: LadspaPluginInfo): string {
  return [
    `  ${p.label} (unique id ${p.uniqueId}, index ${p.index}): ${p.name}`,
    `    maker: ${p.maker}`,
    `    copyright: ${p.copyright}`,
    `    ${rtText(p)}`,
    ...p.ports.map(portLine),
  ].join('\n');
}
