/** `sbc-audio codec check codecs/<part>`: validates a codec description. */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CodecDescription, checkDescription, type DescriptionProblem } from '../../codec/description.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, parseOptions } from '../command.ts';

export interface CodecCheckResult {
  dir: string;
  description?: CodecDescription;
  problems: DescriptionProblem[];
}

/** Loads `<dir>/description.ts` (export `description`) and checks it; a load failure is a problem too. */
export async function checkCodecDir(dir: string): Promise<CodecCheckResult> {
  const file = path.resolve(dir, 'description.ts');
  if (!existsSync(file)) return { dir, problems: [{ where: 'description.ts', message: `no ${path.join(dir, 'description.ts')} (a codec folder holds description.ts exporting "description")` }] };
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(file).href)) as Record<string, unknown>;
  } catch (e) {
    return { dir, problems: [{ where: 'description.ts', message: `cannot be loaded: ${(e as Error).message}` }] };
  }
  const d = (mod.description ?? mod.default) as CodecDescription | undefined;
  if (!d || typeof d !== 'object') return { dir, problems: [{ where: 'description.ts', message: 'exports no "description" object' }] };
  let problems: DescriptionProblem[];
  try {
    problems = checkDescription(d);
  } catch (e) {
    problems = [{ where: '(structure)', message: `the description is malformed: ${(e as Error).message}` }];
  }
  const folder = path.basename(path.resolve(dir));
  if (d.meta?.id && d.meta.id !== folder) problems.unshift({ where: 'meta.id', message: `part id "${d.meta.id}" differs from the folder name "${folder}"` });
  return { dir, description: d, problems };
}

export const codecCommand: Command = {
  name: 'codec',
  usage: `usage: sbc-audio codec check DIR... [--json]

Validates codec descriptions (DIR/description.ts, e.g. codecs/pcm5122): register fields that
overlap or are wider than their register, reset defaults out of range, controls naming unknown
registers or fields, sequences naming unknown registers, format ranges that are not ranges,
figures without a source. Prints every problem with where it is; exit 1 if there is any.

  --json   machine-readable result`,
  async run(argv, io) {
    const { values, positionals } = parseOptions(argv, { json: { type: 'boolean' } }, true);
    const [sub, ...dirs] = positionals;
    if (sub !== 'check') throw new UsageError(sub ? `unknown subcommand "${sub}" (known: check)` : 'a subcommand is required: check');
    if (dirs.length === 0) throw new UsageError('codec check needs a codec folder, e.g. codecs/pcm5122');
    const results = [];
    for (const d of dirs) results.push(await checkCodecDir(d));
    if (values.json) {
      io.out(JSON.stringify(results.map((r) => ({ dir: r.dir, ok: r.problems.length === 0, problems: r.problems })), null, 2));
    } else {
      for (const r of results) {
        if (r.problems.length === 0) {
          const d = r.description!;
          io.out(`${r.dir}: OK (${d.meta.name}: ${d.regmap?.registers.length ?? 0} registers, ${d.controls.length} controls, ${d.formats.length} format ranges)`);
        } else {
          for (const p of r.problems) io.err(`${r.dir}: ${p.where}: ${p.message}`);
          io.err(`${r.dir}: ${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}`);
        }
      }
    }
    return results.every((r) => r.problems.length === 0) ? EXIT_OK : EXIT_FAILURE;
  },
};
