// ESLint flat config: typescript-eslint's recommended rules over the whole tree, plus the
// dependency walls between the project's folders (below).
import tseslint from 'typescript-eslint';

/*
 * Dependency walls.
 *
 * Each wall is a list of restricted import specifiers (a regular expression over the specifier as
 * written, plus the message that names the wall). Walls are enforced with ESLint's core
 * `no-restricted-imports` (static `import`, `import type`, `export … from`) and, for dynamic
 * `import('…')` with a string literal, `no-restricted-syntax` built from the same expressions.
 *
 * Specifiers are relative, so every expression matches any number of `../` (`(\.\./)+`): the same
 * wall holds in a folder's subfolders (src/hal/linux/alsa/…) as at its top. Paths are named from
 * the repo root, optionally without the `src/` prefix, so `../stream/x.ts` (from src/board) and
 * `../../src/stream/x.ts` (from codecs/part) both hit the src/stream wall.
 *
 * Not caught by lint (the walls rest on review there):
 * - dynamic `import(specifier)` with a variable or template-literal specifier, `require()`,
 *   `createRequire`, worker URLs (`new URL('./x.ts', import.meta.url)`);
 * - TypeScript `import x = require('…')` and inline `import('…').T` type queries.
 *
 * Flat config replaces a rule's options when a later block matching the same file sets it again,
 * so each folder's block below lists every wall that applies to it (`walls(…)`), most general
 * folder first. No other block may set `no-restricted-imports` or `no-restricted-syntax`.
 */
const UP = String.raw`^(\.\./)+`;
const WALLS = {
  // The libasound binding is reached only through the HAL's Linux PCM backend: only src/hal/linux/
  // imports src/hal/linux/alsa/ (exceptions: the binding's own tests and benches, see BINDING_TESTS).
  binding: [
    {
      regex: String.raw`^\.\.?/(.*/)?linux/alsa(/|$)`,
      message: 'Wall "libasound binding": only src/hal/linux/ imports src/hal/linux/alsa/; use createLinuxPcmBackend() (or LinuxHal.pcm) from src/hal/linux/index.ts.',
    },
  ],
  // Only src/cli wires a board to a service (also scripts/demo.ts and tests, which are outside src/).
  service: [
    {
      regex: String.raw`^(\.\.?/)+((src/)?stream/)?service(\.ts)?$`,
      importNames: ['startStreamService'],
      message: 'Wall "service wiring": only src/cli (and scripts/demo.ts, tests) call startStreamService from src/stream/service.ts.',
    },
  ],
  // codecs/ and board/ (and the board layer, src/board/) never reach up into the service layers.
  codecsBoard: [
    {
      regex: UP + String.raw`(src/)?(stream|engine|control|cli)(/|$)`,
      message: 'Wall "codecs/board": codecs/, board/ and src/board/ never import src/stream, src/engine, src/control or src/cli.',
    },
  ],
  // A chip model (the simulated bus's behaviour, from the datasheet) stays independent of the driver
  // it checks: not its part's description or driver, nor another part's, nor the part registry
  // (codecs/index.ts), which reaches them all.
  model: [
    {
      regex: String.raw`^(\./|\.\./[^/]+/|(\.\./)+codecs/[^/]+/)(description|driver)(\.ts)?$|^(\.\./)+(codecs/)?index(\.ts)?$`,
      message: 'Wall "chip model": codecs/*/model.ts never imports a part\'s description.ts or driver.ts (nor codecs/index.ts).',
    },
  ],
  // The HAL sits at the bottom: no codecs, no service layers.
  hal: [
    {
      regex: UP + String.raw`(codecs|(src/)?(stream|engine|control))(/|$)`,
      message: 'Wall "HAL": src/hal never imports codecs/, src/stream, src/engine or src/control.',
    },
  ],
  // The ring buffer imports nothing of the project but src/util and the HAL's clock and libc
  // (and itself). Any `../` import that does not land there is refused.
  ringbuffer: [
    {
      regex: UP + String.raw`(?!\.\./)(?!(src/)?(util|ringbuffer)(/|$)|(src/)?hal/clock\.ts$|(src/)?hal/linux/libc\.ts$)`,
      message: 'Wall "ring buffer": src/ringbuffer imports nothing of the project but src/util, src/hal/clock.ts and src/hal/linux/libc.ts.',
    },
  ],
  // The codec layer knows chips, not boards.
  codec: [
    {
      regex: UP + String.raw`(src/)?board(/|$)`,
      message: 'Wall "codec": src/codec never imports src/board (pass plain data in, or put the function in src/board).',
    },
  ],
  // ENFORCED: the engine gets everything it needs from board data resolved by its caller: no codecs/,
  // no board loader, no libasound binding (the binding wall above covers that too).
  // At the time of writing src/engine/devices.ts (externalDelayNs) and src/engine/driver.ts
  // (EngineDriver.forBoard) still import src/board/load.ts and codecs/: `make lint` fails on them
  // until they are rewritten.
  engine: [
    {
      regex: UP + String.raw`(codecs(/|$)|(src/)?board/(load|runtime)(\.ts)?$)`,
      message: 'Wall "engine": src/engine never imports codecs/ or the board loader (src/board/load.ts, src/board/runtime.ts).',
    },
  ],
};

// The binding's own tests and benches: outside the binding wall.
const BINDING_TESTS = ['tests/unit/alsa-*.ts', 'tests/contract/pcm-alsa.test.ts', 'tests/hil/guest/alsa-*.ts', 'bench/alsa-*.ts'];

const CODE = '*.{ts,mts,cts,js,mjs,cjs}';
const inside = (...dirs) => dirs.map((d) => `${d}/**/${CODE}`);

/** A config block enforcing the named walls (all of them: see above) on `files`. */
function walls(files, names, ignores = []) {
  const entries = names.flatMap((n) => WALLS[n]);
  return {
    files,
    ignores,
    rules: {
      'no-restricted-imports': ['error', {
        patterns: entries.map(({ regex, message, importNames }) => ({ regex, message, caseSensitive: true, ...(importNames ? { importNames } : {}) })),
      }],
      // esquery regex literals cannot contain '/': spell it \x2F.
      // A dynamic import brings the whole module, so it is refused even where `importNames` narrows
      // the static rule (the service wall).
      'no-restricted-syntax': ['error', ...entries
        .map(({ regex, message }) => ({ selector: `ImportExpression[source.value=/${regex.replaceAll('/', String.raw`\x2F`)}/]`, message }))],
    },
  };
}

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.cache/**'] },
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-explicit-any': 'off',
    },
  },
  {
    // Mocha loads reporters with require(), so the reporter is CommonJS.
    files: ['**/*.cjs'],
    rules: { '@typescript-eslint/no-require-imports': 'off' },
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', module: 'writable', process: 'readonly' } },
  },

  // Dependency walls, most general first (a later block replaces an earlier one's walls).
  walls([`**/${CODE}`], ['binding'], ['src/hal/linux/**', ...BINDING_TESTS]),
  walls(inside('src'), ['binding', 'service'], ['src/cli/**', 'src/hal/linux/**']),
  walls(inside('codecs', 'board'), ['binding', 'codecsBoard']),
  walls(['codecs/*/model.ts'], ['binding', 'codecsBoard', 'model']),
  walls(inside('src/board'), ['binding', 'service', 'codecsBoard']),
  walls(inside('src/hal'), ['binding', 'service', 'hal'], ['src/hal/linux/**']),
  walls(inside('src/hal/linux'), ['service', 'hal']),
  walls(inside('src/ringbuffer'), ['binding', 'service', 'ringbuffer']),
  walls(inside('src/codec'), ['binding', 'service', 'codec']),
  walls(inside('src/engine'), ['binding', 'service', 'engine']),
);
