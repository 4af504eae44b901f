/**
 * One home for errno values: src/util/errno.ts holds their names, numbers and texts; the Linux
 * HAL (libc, I2C, GPIO), the libasound binding, the simulated backends and the engine import it,
 * and nothing else in src/, codecs/ or alsa/ declares an errno number again. Expected values are
 * the kernel's (asm-generic/errno-base.h, asm-generic/errno.h) and glibc's texts, as literals.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PcmError } from '../../../src/hal/pcm.ts';
import { SimPcmBackend } from '../../../src/hal/sim/pcm.ts';
import { VirtualClock } from '../../../src/hal/sim/clock.ts';
import { errnoToFault } from '../../../src/hal/linux/i2c.ts';
import { ERRNO, errnoName, errnoText } from '../../../src/util/errno.ts';
import { ERRNO_RULES } from './rules.ts';
import { listFindings, scanText, scanTree, sourceFiles } from './scan.ts';

const HOME = 'src/util/errno.ts';

const KERNEL: [string, number, string][] = [
  ['EPERM', 1, 'Operation not permitted'], ['ENOENT', 2, 'No such file or directory'], ['ESRCH', 3, 'No such process'],
  ['EINTR', 4, 'Interrupted system call'], ['EIO', 5, 'Input/output error'], ['ENXIO', 6, 'No such device or address'],
  ['EBADF', 9, 'Bad file descriptor'], ['EAGAIN', 11, 'Resource temporarily unavailable'], ['ENOMEM', 12, 'Cannot allocate memory'],
  ['EACCES', 13, 'Permission denied'], ['EBUSY', 16, 'Device or resource busy'], ['ENODEV', 19, 'No such device'],
  ['EINVAL', 22, 'Invalid argument'], ['EPIPE', 32, 'Broken pipe'], ['EPROTO', 71, 'Protocol error'],
  ['EBADFD', 77, 'File descriptor in bad state'], ['ESTRPIPE', 86, 'Streams pipe error'], ['EOPNOTSUPP', 95, 'Operation not supported'],
  ['ETIMEDOUT', 110, 'Connection timed out'], ['EREMOTEIO', 121, 'Remote I/O error'],
];

describe('single home: errno values (src/util/errno.ts)', () => {
  it('maps names to the kernel\'s numbers and numbers (either sign) to names and glibc\'s texts', () => {
    assert.deepEqual(Object.keys(ERRNO).sort(), KERNEL.map(([n]) => n).sort());
    for (const [name, n, text] of KERNEL) {
      assert.equal((ERRNO as Record<string, number>)[name], n, name);
      assert.equal(errnoName(n), name);
      assert.equal(errnoName(-n), name);
      assert.equal(errnoText(n), text);
      assert.equal(errnoText(-n), text);
    }
    assert.equal(errnoName(4095), undefined);
    assert.equal(errnoText(-4095), 'Unknown error 4095');
    assert.ok(Object.isFrozen(ERRNO));
  });

  it('has the texts this system\'s C library gives', async function () {
    const glibc = (process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime;
    if (process.platform !== 'linux' || !glibc) this.skip(); // the texts are glibc's; musl words some differently
    const { libc } = await import('../../../src/hal/linux/libc.ts');
    for (const [name, n] of KERNEL) assert.equal(errnoText(n), libc().strerror(n), name);
  });

  it('is what its users report (values as the kernel has them)', async () => {
    assert.equal(errnoToFault(6), 'nack'); // ENXIO
    assert.equal(errnoToFault(121), 'nack'); // EREMOTEIO
    assert.equal(errnoToFault(110), 'timeout'); // ETIMEDOUT
    assert.equal(errnoToFault(9), 'closed'); // EBADF
    const sim = new SimPcmBackend(new VirtualClock());
    const req = { direction: 'playback', rate: 48000, channels: 2, format: 'S16_LE', periodFrames: 64, bufferFrames: 256 } as const;
    const s = await sim.open('hw:0', req);
    await assert.rejects(sim.open('hw:0', req), (e: unknown) => e instanceof PcmError && e.errno === -16); // -EBUSY
    s.close();
    await assert.rejects(sim.open('hw:0', { ...req, rate: 1 }), (e: unknown) => e instanceof PcmError && e.errno === -22); // -EINVAL
  });

  it('is declared nowhere else in src/, codecs/ or alsa/', () => {
    const files = sourceFiles();
    assert.ok(files.includes('src/hal/linux/i2c.ts') && files.includes('src/hal/linux/libc.ts') && files.includes(HOME), 'the scan reaches the users');
    const found = scanTree(ERRNO_RULES, [HOME]);
    assert.equal(found.length, 0, `a second errno table or literal (use ERRNO from ${HOME}):\n${listFindings(found)}`);
  });

  it('negative control: the scanner flags planted errno tables and literals, each at its line', () => {
    const planted = [
      ['const EBUSY = 16;', 'errno constant given a number'],
      ['export const EPIPE = 32, EAGAIN = 11;', 'errno constant given a number'],
      ['const E = { ENXIO: 6, EREMOTEIO: 121 };', 'errno constant given a number'],
      ['  EBADFD: [77, "File descriptor in bad state"],', 'errno constant given a number'],
      ['if (e === 16 /* EBUSY */) {', 'errno number written as a literal with its name'],
      ['if (koffi.errno() === 4) continue;', 'errno compared with a literal'],
      ['if (e instanceof PcmError && e.errno === -19) break;', 'errno compared with a literal'],
      ["throw new I2cError({ bus, addr, fault: 'nack', op, errno: 6 });", 'errno given as a literal'],
      ["throw new PcmError(device, 'open', 'busy', -16);", 'errno literal passed to an error'],
      ["throw new AlsaError('use', -77, this.device);", 'errno literal passed to an error'],
      ["throw new GpioError(this.name, o, 'bad debounce', 22);", 'errno literal passed to an error'],
      ["const why = 'Device or resource busy';", 'errno text outside the table'],
    ] as const;
    const text = ['// line 1', ...planted.map(([code]) => code)].join('\n');
    const found = scanText('src/hal/x.ts', text, ERRNO_RULES);
    planted.forEach(([code, rule], i) => {
      assert.ok(found.some((f) => f.line === i + 2 && f.rule === rule), `not flagged as "${rule}" at line ${i + 2}: ${code}\n${listFindings(found)}`);
    });
    const clean = [
      "import { ERRNO } from '../../util/errno.ts';",
      "throw new PcmError(device, 'open', 'busy', -ERRNO.EBUSY);",
      'if (rc === -ERRNO.EPIPE) this.noteXrun();',
      'export const CLIENT = { PRESENT: 0, HUNG_UP: 1, EXITING: 2 } as const;',
      "throw new GpioError(chip, offset, `${what}: ${libc().strerror(e)} (errno ${e})`, e);",
      'const err = new Error(`${what}: failed`) as Error & { errno: number };',
    ].join('\n');
    assert.deepEqual(scanText('src/hal/x.ts', clean, ERRNO_RULES), []);
  });

  it('negative control: the tree scan names the file and line of a planted errno table, and spares the home', () => {
    const root = mkdtempSync(path.join(tmpdir(), 'single-home-errno-'));
    try {
      const put = (rel: string, text: string) => {
        mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
        writeFileSync(path.join(root, rel), text);
      };
      put(HOME, 'const TABLE = { EBUSY: [16, "Device or resource busy"] };\n');
      put('alsa/libasound.ts', '// errno values\nexport const EPIPE = 32;\n');
      put('src/hal/linux/i2c.ts', "const a = 1;\nconst b = 2;\nif (e === 16 /* EBUSY */) throw new Error('busy');\n");
      const found = scanTree(ERRNO_RULES, [HOME], root);
      assert.deepEqual([...new Set(found.map((f) => `${f.file}:${f.line}`))], ['alsa/libasound.ts:2', 'src/hal/linux/i2c.ts:3']);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
