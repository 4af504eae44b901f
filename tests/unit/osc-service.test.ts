/**
 * The OSC server as `serve` runs it: wired into the stream service with the real control
 * dispatcher, programs and configure (tests/unit/osc.test.ts tests the server on its own, with
 * stand-ins). Peers we did not write: liblo-tools' `oscsend` and dssi-utils' `dssi_osc_send`.
 * The sim board; its ports on the speaker: 0 gain, 1 mute, 2 trim (the model's listing order).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

const run = promisify(execFile);

/** Polls until `fn` is true (real time: UDP and the dispatcher's loop), at most 5 s. */
async function until(what: string, fn: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.fail(`not within 5 s: ${what}`);
}

describe('OSC in the stream service: the real dispatcher, programs and configure, reached by oscsend and dssi_osc_send', function () {
  this.timeout(60000);
  let rt: BoardRuntime;
  let svc: StreamService;
  let dir: string;
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-osc-svc-'));
    rt = await openBoard(loadBoard('sim'));
    svc = await startStreamService(rt, { runtimeDir: dir, presetDir: path.join(dir, 'presets'), osc: { bind: '127.0.0.1:0' }, log: (l) => lines.push(l) });
  });
  after(async () => {
    await svc?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const url = (owner: string) => `osc.udp://127.0.0.1:${svc.osc!.port}/sbc-audio/sim/${owner}`;
  const value = async (id: string) => (await svc.controls.get(id)).value;

  it('listens on loopback, at the port it says', () => {
    assert.ok(svc.osc, 'the service started its OSC server');
    assert.equal(svc.osc.address, '127.0.0.1');
    assert.ok(svc.osc.port > 0);
  });

  it('oscsend sets the speaker gain by name; dssi_osc_send -c sets it by port (0 = gain)', async () => {
    await run('oscsend', ['127.0.0.1', String(svc.osc!.port), '/sbc-audio/sim/speaker/control', 'sf', 'gain', '-20']);
    await until('gain −20 dB', async () => (await value('sim.speaker.gain')) === -20);
    await run('dssi_osc_send', ['-c', url('speaker'), '0', '-12.5']);
    await until('gain −12.5 dB', async () => (await value('sim.speaker.gain')) === -12.5);
    assert.ok(svc.dispatcher.stats().applied >= 2, JSON.stringify(svc.dispatcher.stats()));
  });

  it('dssi_osc_send -p selects a built-in program (bank 0: the sim-codec\'s DAC Filter values sharp, slow, low-latency): program 1 writes "slow"', async () => {
    assert.equal(await value('sim.sim-codec.dac-filter'), 'sharp');
    await run('dssi_osc_send', ['-p', url('sim-codec'), '0', '1']);
    await until('dac-filter slow', async () => (await value('sim.sim-codec.dac-filter')) === 'slow');
    assert.deepEqual(svc.programs.current(), { bank: 0, program: 1 });
  });

  it('dssi_osc_send -C configures the speaker\'s ramp time; a bad value changes nothing', async () => {
    await run('dssi_osc_send', ['-C', url('speaker'), 'ramp-ms', '20']);
    await until('ramp-ms 20', async () => svc.configure.list('speaker').some((k) => k.key === 'ramp-ms' && k.value === '20'));
    await run('dssi_osc_send', ['-C', url('speaker'), 'ramp-ms', 'soon']);
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(svc.configure.list('speaker').some((k) => k.key === 'ramp-ms' && k.value === '20'), 'still 20');
  });

  it('the default address taken: with ifFree the service runs without OSC and says so; without it, it does not start', async () => {
    const taken = `127.0.0.1:${svc.osc!.port}`;
    const rt2 = await openBoard(loadBoard('sim'));
    const dir2 = mkdtempSync(path.join(tmpdir(), 'sbc-osc-svc2-'));
    const log2: string[] = [];
    try {
      const s2 = await startStreamService(rt2, { runtimeDir: dir2, osc: { bind: taken, ifFree: true }, log: (l) => log2.push(l) });
      assert.equal(s2.osc, undefined);
      assert.ok(log2.some((l) => /OSC: 127\.0\.0\.1:\d+ is in use .*running without OSC/.test(l)), log2.join('\n'));
      await s2.close();
      await assert.rejects(startStreamService(rt2, { runtimeDir: dir2, osc: { bind: taken } }), /EADDRINUSE/);
    } finally {
      await rt2.close();
      rmSync(dir2, { recursive: true, force: true });
    }
  });
});
