/**
 * A PCM5122 on i2c-stub (guest only): i2c-stub models no chip, so before a driver probes it the
 * registers the driver's init reads are written as a settled chip would show them: page 0 selected,
 * and from zero the standby/power registers (0x02, 0x03), the mute-detect and gain registers
 * (0x2b, 0x3d, 0x3e) and the analog mute detect (0x6c: 0 = settled). Written with i2cset, a peer we
 * did not write. The guest tests of serve on the stand-in board share it.
 */
import { spawn } from 'node:child_process';

export const PCM5122_STUB_PRELOAD: readonly (readonly [reg: number, value: number])[] = [[0x00, 0x00], [0x02, 0x00], [0x03, 0x00], [0x2b, 0x00], [0x3d, 0x00], [0x3e, 0x00], [0x6c, 0x00]];

export async function preloadPcm5122Stub(bus: number, address = 0x4c): Promise<void> {
  for (const [reg, value] of PCM5122_STUB_PRELOAD) {
    const code = await new Promise<number | null>((resolve) => spawn('i2cset', ['-y', String(bus), `0x${address.toString(16)}`, `0x${reg.toString(16)}`, `0x${value.toString(16)}`]).on('exit', resolve).on('error', () => resolve(127)));
    if (code !== 0) throw new Error(`i2cset -y ${bus} 0x${address.toString(16)} 0x${reg.toString(16)}: exit ${code}`);
  }
}
