/**
 * The period-lateness histogram the stream bridge keeps in its control block (issue 24: the status
 * page's histogram; src/engine/stream-control.ts LATENESS_EDGES, src/engine/hosts/stream-bridge.ts).
 * The host is called directly, one period at a time, with the lateness the engine loop would give
 * it: 64-frame periods at 48 kHz are 1333333.3 ns, so the edges at 0.05 / 0.1 / 1 / 2 periods are
 * 66666.7 / 133333.3 / 1333333.3 / 2666666.7 ns. Expected bins are written out from those literals.
 */
import assert from 'node:assert/strict';
import { createHost } from '../../src/engine/hosts/stream-bridge.ts';
import { createStreamControl, streamControlViews } from '../../src/engine/stream-control.ts';
import type { HostContext, NegotiatedConfig, TimeInfo } from '../../src/engine/types.ts';

const PERIOD_NS = (64 * 1e9) / 48000;

function bridge() {
  const control = createStreamControl();
  const config = { rate: 48000, bufferFrames: 64, inputChannels: 0, outputChannels: 2, format: 'i16', interleaved: true, periods: 2, pcmFormat: { output: 'S16_LE' } } as NegotiatedConfig;
  const ctx: HostContext = {
    config,
    latency: { inputFrames: 0, outputFrames: 128, externalInputFrames: 0, externalOutputFrames: 0 },
    options: { control, direction: 'output', fifoFrames: 128 },
    requestReset: () => {},
    post: () => {},
  };
  const host = createHost(ctx);
  const out = new Int16Array(128);
  const time: TimeInfo = { hostNs: 0, deviceNs: Number.NaN, latenessNs: 0, samplePosition: 0, underruns: 0, overruns: 0 } as TimeInfo;
  return {
    views: streamControlViews(control),
    period(latenessNs: number) {
      time.latenessNs = latenessNs;
      time.hostNs += PERIOD_NS;
      host.process([], [out], 64, time, config);
      time.samplePosition += 64;
    },
    close: () => host.dispose?.(),
  };
}

describe('stream bridge: the period-lateness histogram', () => {
  it('counts each period in the bin of its lateness (edges 0, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2 periods)', () => {
    const b = bridge();
    try {
      assert.deepEqual([...b.views.lateness], [0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 'empty before the first period');
      // On time; just under 0.05 of a period; exactly at 0.1; just under one period; at one; far beyond two.
      for (const ns of [0, 0, 66000, 133334, 1333000, 1333334, 10e6]) b.period(ns);
      assert.deepEqual([...b.views.lateness], [3, 0, 1, 0, 0, 0, 1, 1, 0, 1]);
    } finally {
      b.close();
    }
  });

  it('counts every period, stopped or running (the engine runs the same loop either way)', () => {
    const b = bridge();
    try {
      for (let i = 0; i < 100; i++) b.period(0);
      assert.equal(b.views.lateness.reduce((a, x) => a + x, 0), 100);
      // Negative control: a histogram that was not written stays at zero in a fresh block.
      assert.equal(streamControlViews(createStreamControl()).lateness.reduce((a, x) => a + x, 0), 0);
    } finally {
      b.close();
    }
  });
});
