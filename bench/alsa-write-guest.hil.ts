/**
 * Runs bench/alsa-write.ts on hw:Dummy inside the QEMU guest (paced by an hrtimer). Not part of
 * the HIL suite's default specs; run it with
 *   SBC_HIL_SPEC=bench/alsa-write-guest.hil.ts bash tests/hil/run-vm.sh
 * Guest figures are under TCG: compare the two sides of one run, never absolute numbers. Periods
 * of 1024 frames (21 ms) and a 4096-frame buffer: TCG stalls the guest for longer than a
 * 256-frame buffer lasts.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

describe('alsa-write bench on hw:Dummy (guest)', function () {
  this.timeout(600000);
  it('measures CPU per audio second: our write loop vs aplay', () => {
    const bench = fileURLToPath(new URL('./alsa-write.ts', import.meta.url));
    const out = execFileSync(process.execPath, ['--import', 'tsx', bench, '--device', 'hw:Dummy', '--period', '1024', '--buffer', '4096', '--seconds', '20', '--rounds', '3'], { encoding: 'utf8' });
    console.log(out);
  });
});
