/**
 * The service's remote face wired (src/stream/appliance.ts behind src/web/server.ts; docs/REMOTE.md)
 * on the sim board: the streams' status as the board file and the control model say, a gain set
 * over HTTP lands in the control model (and a refused one changes nothing), the simulated jack
 * pushes a stream event over the WebSocket, and the levels of a stream that plays nothing read the
 * floor. The API server itself is tested in web-server.test.ts, the meters in levels.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { loadBoard } from '../../src/board/load.ts';
import { type BoardRuntime, openBoard } from '../../src/board/runtime.ts';
import { type StreamService, startStreamService } from '../../src/stream/service.ts';

describe('the service\'s HTTP + WebSocket face (sim board)', function () {
  this.timeout(30000);
  let dir: string;
  let rt: BoardRuntime;
  let service: StreamService;
  let base: string;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sbc-remote-'));
    rt = await openBoard(loadBoard('sim'));
    service = await startStreamService(rt, { runtimeDir: dir, ringBuffer: false, http: { bind: { address: '127.0.0.1', port: 0 } } });
    base = `http://127.0.0.1:${service.web!.port}`;
  });
  after(async () => {
    await service?.close();
    await rt?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('lists the board\'s streams with their gain, plug and latency breakdown', async () => {
    const r = await fetch(`${base}/api/streams`);
    assert.equal(r.status, 200);
    const streams = await r.json() as { id: string; direction: string; state: string; plugged?: boolean; gain?: { id: string; db: number; min: number; max: number; step: number; muted: boolean }; latency: { items: { source: string }[] } }[];
    // board/sim.json: speaker and headphone out, mic in; the headphone on the jack (unplugged at start).
    assert.deepEqual(streams.map((s) => [s.id, s.direction, s.state]), [['speaker', 'output', 'idle'], ['headphone', 'output', 'idle'], ['mic', 'input', 'idle']]);
    const speaker = streams[0]!;
    assert.deepEqual(speaker.gain && [speaker.gain.id, speaker.gain.db, speaker.gain.min, speaker.gain.max, speaker.gain.step, speaker.gain.muted], ['sim.speaker.gain', -20, -127, 0, 0.5, false]);
    assert.equal(speaker.plugged, undefined, 'the speaker is hardwired');
    assert.equal(streams[1]!.plugged, false);
    assert.ok(speaker.latency.items.every((i) => i.source.length > 0), 'every latency item has its source');
    assert.equal((speaker as { lateness?: unknown }).lateness, null, 'no engine has run: no lateness histogram');
  });

  it('a gain set over HTTP lands in the control model; a refused one changes nothing', async () => {
    const put = (value: unknown) => fetch(`${base}/api/controls/sim.speaker.gain`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value }) });
    const ok = await put(-31);
    assert.equal(ok.status, 200);
    assert.equal((await service.controls.get('sim.speaker.gain')).value, -31);
    const bad = await put(12);
    assert.equal(bad.status, 400);
    assert.match(((await bad.json()) as { error: string }).error, /sim\.speaker\.gain: 12 dB is outside its range -127 \.\. 0 dB/);
    assert.equal((await service.controls.get('sim.speaker.gain')).value, -31, 'unchanged');
    const unknown = await fetch(`${base}/api/controls/sim.speaker.loudness`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{"value": 1}' });
    assert.equal(unknown.status, 404);
  });

  it('the simulated jack pushes the headphone stream\'s new plug state to a WebSocket subscriber', async () => {
    const ws = new WebSocket(`ws://127.0.0.1:${service.web!.port}/api/ws`);
    const messages: { type: string; stream?: { id: string; plugged?: boolean } }[] = [];
    ws.on('message', (d) => messages.push(JSON.parse(String(d))));
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ subscribe: ['streams'] }));
    const waitFor = async (p: () => boolean, what: string) => {
      for (let i = 0; i < 200 && !p(); i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(p(), what);
    };
    await waitFor(() => messages.some((m) => m.type === 'subscribed'), 'subscribed');
    rt.setSimJack(true);
    // After the line's debounce (20 ms on the sim board's jack).
    await waitFor(() => messages.some((m) => m.type === 'stream' && m.stream?.id === 'headphone' && m.stream.plugged === true), 'a stream event with the headphone plugged');
    ws.close();
    rt.setSimJack(false);
  });

  it('a stream that plays nothing reads the floor: no frames, digital silence (null over JSON)', async () => {
    const r = await fetch(`${base}/api/streams/speaker/levels`);
    assert.equal(r.status, 200);
    const l = await r.json() as { frames: number; peakDb: (number | null)[]; rmsDb: (number | null)[] };
    assert.equal(l.frames, 0);
    assert.deepEqual(l.peakDb, [null, null]);
    assert.equal((await fetch(`${base}/api/streams/nothing/levels`)).status, 404);
  });
});
