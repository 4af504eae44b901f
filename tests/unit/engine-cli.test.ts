import assert from 'node:assert/strict';
import type { CliIO } from '../../src/cli/command.ts';
import { main } from '../../src/cli/main.ts';

function io(): CliIO & { outText: string; errText: string } {
  const o = { outText: '', errText: '', isTTY: false, out(t: string) { o.outText += `${t}\n`; }, err(t: string) { o.errText += `${t}\n`; } };
  return o;
}

describe('sbc-audio run', function () {
  this.timeout(30000);

  it('runs the tone example on the sim board for the seconds asked (virtual clock) and reports as JSON', async () => {
    const t = io();
    const rc = await main(['run', '--board', 'sim', '--sim-clock', 'virtual', '--host', 'examples/tone.ts', '--seconds', '0.2', '--period', '32', '--option', 'freq=880', '--json'], t);
    assert.equal(rc, 0, t.errText);
    const r = JSON.parse(t.outText);
    assert.equal(r.reason, 'frames');
    assert.equal(r.frames, 9600);
    assert.equal(r.config.bufferFrames, 32);
    assert.equal(r.underruns, 0);
  });

  it('lists a board\'s devices', async () => {
    const t = io();
    assert.equal(await main(['run', '--board', 'sim', '--list'], t), 0);
    assert.match(t.outText, /^speaker .*\nheadphone .*\nmic /);
  });

  it('refuses a missing host or board, and a bad format, as usage errors', async () => {
    assert.equal(await main(['run', '--board', 'sim'], io()), 2);
    assert.equal(await main(['run', '--host', 'examples/tone.ts'], io()), 2);
    assert.equal(await main(['run', '--board', 'sim', '--host', 'examples/tone.ts', '--format', 'f64'], io()), 2);
    const t = io();
    assert.equal(await main(['run', '--board', 'sim', '--sim-clock', 'virtual', '--host', 'examples/nope.ts', '--seconds', '0.1'], t), 1);
    assert.match(t.errText, /cannot load host module/);
  });
});
