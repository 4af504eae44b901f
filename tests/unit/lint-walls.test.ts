/**
 * The dependency walls in eslint.config.js: for each wall, an import that crosses it, planted at a
 * path inside the walled folder, fails lint with no-restricted-imports (or, for a dynamic import,
 * no-restricted-syntax); a permitted import at the same path passes. `lintText` with a virtual
 * `filePath` applies that folder's config without writing a file.
 */
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const eslint = new ESLint({ cwd: repoRoot });

/** The wall-rule messages the project's config reports for `code` linted as if it were at `file`. */
async function wallErrors(file: string, code: string): Promise<{ ruleId: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(repoRoot, file) });
  assert.ok(result, `no lint result for ${file}`);
  const fatal = result.messages.filter((m) => m.fatal);
  assert.deepEqual(fatal, [], `${file} did not parse`);
  return result.messages
    .filter((m) => m.ruleId === 'no-restricted-imports' || m.ruleId === 'no-restricted-syntax')
    .map(({ ruleId, message }) => ({ ruleId, message }));
}

/** Asserts one wall error of `rule` whose message names `wall`. */
async function assertBlocked(file: string, code: string, wall: string, rule = 'no-restricted-imports'): Promise<void> {
  const errors = await wallErrors(file, code);
  assert.equal(errors.length, 1, `${file}: expected one wall error for ${JSON.stringify(code)}, got ${JSON.stringify(errors)}`);
  assert.equal(errors[0]!.ruleId, rule);
  assert.match(errors[0]!.message, new RegExp(`Wall "${wall}"`));
}

async function assertAllowed(file: string, code: string): Promise<void> {
  assert.deepEqual(await wallErrors(file, code), [], `${file}: ${JSON.stringify(code)} should pass the walls`);
}

interface WallCase {
  wall: string;
  file: string;
  blocked: string;
  allowed: string;
  /** Same wall, another way in (deeper folder, dynamic import, re-export). */
  alsoBlocked?: { file: string; code: string; rule?: string }[];
}

const CASES: WallCase[] = [
  {
    wall: 'codecs/board',
    file: 'codecs/x/driver.ts',
    blocked: "import { StreamCore } from '../../src/stream/core.ts';\nexport { StreamCore };\n",
    allowed: "import type { I2cBus } from '../../src/hal/i2c.ts';\nexport type { I2cBus };\n",
    alsoBlocked: [
      { file: 'src/board/x.ts', code: "export { EngineDriver } from '../engine/driver.ts';\n" },
      { file: 'codecs/index.ts', code: "export * from '../src/cli/main.ts';\n" },
    ],
  },
  {
    wall: 'HAL',
    file: 'src/hal/x.ts',
    blocked: "import { loadCodecPart } from '../../codecs/index.ts';\nexport { loadCodecPart };\n",
    allowed: "import type { Clock } from './clock.ts';\nexport type { Clock };\n",
    alsoBlocked: [
      { file: 'src/hal/linux/alsa/x.ts', code: "import type { StreamCore } from '../../../stream/core.ts';\nexport type { StreamCore };\n" },
      { file: 'src/hal/sim/x.ts', code: "export const m = () => import('../../engine/index.ts');\n", rule: 'no-restricted-syntax' },
    ],
  },
  {
    wall: 'libasound binding',
    file: 'src/engine/x.ts',
    blocked: "import { AlsaPcmBackend } from '../hal/linux/alsa/pcm-backend.ts';\nexport { AlsaPcmBackend };\n",
    allowed: "import { createLinuxPcmBackend } from '../hal/linux/index.ts';\nexport { createLinuxPcmBackend };\n",
    alsoBlocked: [
      { file: 'src/stream/x.ts', code: "export const m = () => import('../hal/linux/alsa/pcm-backend.ts');\n", rule: 'no-restricted-syntax' },
      { file: 'tests/unit/engine-x.test.ts', code: "import { asound } from '../../src/hal/linux/alsa/libasound.ts';\nexport { asound };\n" },
      { file: 'src/hal/x.ts', code: "export * from './linux/alsa/index.ts';\n" },
    ],
  },
  {
    wall: 'ring buffer',
    file: 'src/ringbuffer/x.ts',
    blocked: "import type { PcmStream } from '../hal/pcm.ts';\nexport type { PcmStream };\n",
    allowed: [
      "import { FrameCopier } from '../util/frame-copy.ts';",
      "import type { Clock } from '../hal/clock.ts';",
      "import { libc } from '../hal/linux/libc.ts';",
      "import { Ring } from './ring.ts';",
      "import { readFileSync } from 'node:fs';",
      'export { FrameCopier, libc, Ring, readFileSync };',
      'export type { Clock };',
      '',
    ].join('\n'),
    alsoBlocked: [
      { file: 'src/ringbuffer/x.ts', code: "import type { Board } from '../board/schema.ts';\nexport type { Board };\n" },
      { file: 'src/ringbuffer/x.ts', code: "import { monotonicClock } from '../hal/linux/clock.ts';\nexport { monotonicClock };\n" },
    ],
  },
  {
    wall: 'codec',
    file: 'src/codec/x.ts',
    blocked: "import type { Board } from '../board/schema.ts';\nexport type { Board };\n",
    allowed: "import type { CodecDriver } from './types.ts';\nexport type { CodecDriver };\n",
  },
  {
    wall: 'engine',
    file: 'src/engine/x.ts',
    blocked: "import { loadBoard } from '../board/load.ts';\nexport { loadBoard };\n",
    allowed: "import { latencyBreakdown } from '../board/latency.ts';\nimport type { Board } from '../board/schema.ts';\nexport { latencyBreakdown };\nexport type { Board };\n",
    alsoBlocked: [
      { file: 'src/engine/x.ts', code: "import { openBoard } from '../board/runtime.ts';\nexport { openBoard };\n" },
      { file: 'src/engine/hosts/x.ts', code: "import { loadCodecPart } from '../../../codecs/index.ts';\nexport { loadCodecPart };\n" },
      { file: 'src/engine/x.ts', code: "export const m = () => import('../../codecs/index.ts');\n", rule: 'no-restricted-syntax' },
    ],
  },
  {
    wall: 'chip model',
    file: 'codecs/x/model.ts',
    blocked: "import { description } from './description.ts';\nexport { description };\n",
    allowed: "import { PointerRegisterDevice } from '../../src/hal/sim/i2c-device.ts';\nexport { PointerRegisterDevice };\n",
    alsoBlocked: [
      { file: 'codecs/x/model.ts', code: "import { XDriver } from './driver.ts';\nexport { XDriver };\n" },
      { file: 'codecs/x/model.ts', code: "import { description } from '../y/description.ts';\nexport { description };\n" },
      { file: 'codecs/x/model.ts', code: "import { loadCodecPart } from '../index.ts';\nexport { loadCodecPart };\n" },
    ],
  },
  {
    wall: 'service wiring',
    file: 'src/engine/x.ts',
    blocked: "import { startStreamService } from '../stream/service.ts';\nexport { startStreamService };\n",
    allowed: "import type { StreamService } from '../stream/service.ts';\nexport type { StreamService };\n",
    alsoBlocked: [
      { file: 'src/stream/index.ts', code: "export { startStreamService } from './service.ts';\n" },
      { file: 'src/util/x.ts', code: "export * from '../stream/service.ts';\n" },
    ],
  },
];

describe('lint: dependency walls (eslint.config.js)', function () {
  this.timeout(60_000);

  for (const c of CASES) {
    it(`wall "${c.wall}": refuses a crossing import in ${c.file}${c.alsoBlocked ? ` (and ${c.alsoBlocked.length} other ways in)` : ''}`, async () => {
      await assertBlocked(c.file, c.blocked, c.wall);
      for (const o of c.alsoBlocked ?? []) await assertBlocked(o.file, o.code, c.wall, o.rule);
    });
    it(`wall "${c.wall}": passes a permitted import in ${c.file}`, async () => {
      await assertAllowed(c.file, c.allowed);
    });
  }

  it('wall "libasound binding": src/hal/linux/ and the binding\'s own tests and benches may import it', async () => {
    await assertAllowed('src/hal/linux/x.ts', "export const m = () => import('./alsa/pcm-backend.ts');\n");
    await assertAllowed('src/hal/linux/alsa/x.ts', "import { asound } from './libasound.ts';\nexport { asound };\n");
    for (const file of ['tests/unit/alsa-x.test.ts', 'tests/contract/pcm-alsa.test.ts', 'tests/hil/guest/alsa-x.hil.ts', 'bench/alsa-x.ts']) {
      const up = '../'.repeat(file.split('/').length - 1);
      await assertAllowed(file, `import { AlsaPcmBackend } from '${up}src/hal/linux/alsa/pcm-backend.ts';\nexport { AlsaPcmBackend };\n`);
    }
  });

  it('wall "service wiring": src/cli, scripts/demo.ts and tests may start the service', async () => {
    for (const [file, spec] of [
      ['src/cli/commands/x.ts', '../../stream/service.ts'],
      ['scripts/demo.ts', '../src/stream/service.ts'],
      ['tests/unit/x.test.ts', '../../src/stream/service.ts'],
    ]) {
      await assertAllowed(file!, `import { startStreamService } from '${spec}';\nexport { startStreamService };\n`);
    }
  });

  it('a dynamic import with a variable specifier is not caught (documented in eslint.config.js)', async () => {
    await assertAllowed('src/engine/x.ts', "const spec = '../../codecs/index.ts';\nexport const m = () => import(spec);\n");
  });
});
