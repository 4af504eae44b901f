/**
 * The control and simple-mixer elements of the guest's cards, read through our binding, match
 * what alsa-utils' `amixer` lists (every element, type, range, dB range and value); values
 * written through one side are read back through the other.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { AlsaControl, AlsaMixer, type CtlElement } from '../../../src/hal/linux/alsa/control.ts';
import { hilEnv } from '../env.ts';
import { parseAmixerContents, parseAmixerScontents } from './alsa-amixer-parse.ts';

const amixer = (...args: string[]) => execFileSync('amixer', args, { encoding: 'utf8' });

/** 'hw:Loopback,1,0' → 'Loopback'. */
const cardOf = (dev: string) => /^hw:(?:CARD=)?([^,]+)/.exec(dev)![1]!;

describe('ALSA mixer and controls against amixer (guest)', function () {
  this.timeout(60000);
  const env = hilEnv();
  const cards = [env.alsa.dummy, env.alsa.loopbackPlayback].filter((d): d is string => !!d).map(cardOf);
  before(function () {
    if (cards.length === 0) this.skip(); // reason: no snd-dummy / snd-aloop card in this environment (guest only)
  });

  for (const card of ['Dummy', 'Loopback']) {
    it(`lists every control of card ${card} as 'amixer contents' does, with values and dB ranges`, function () {
      if (!cards.includes(card)) this.skip(); // reason: the card is not in this environment
      const theirs = parseAmixerContents(amixer('-c', card, 'contents'));
      const ctl = AlsaControl.open(`hw:${card}`);
      try {
        assert.equal(ctl.cardId, card);
        const ours = ctl.list();
        assert.ok(theirs.length > 0);
        assert.deepEqual(ours.map((e) => e.numid).sort((a, b) => a - b), theirs.map((e) => e.numid).sort((a, b) => a - b), 'the same elements');
        const byNumid = new Map<number, CtlElement>(ours.map((e) => [e.numid, e]));
        for (const t of theirs) {
          const o = byNumid.get(t.numid)!;
          const what = `numid=${t.numid} '${t.name}'`;
          assert.deepEqual(
            { iface: o.iface, name: o.name, index: o.index, device: o.device, subdevice: o.subdevice, type: o.type, count: o.count },
            { iface: t.iface, name: t.name, index: t.index, device: t.device, subdevice: t.subdevice, type: t.type, count: t.count }, what);
          assert.equal(o.readable, t.access[0] === 'r', `${what} readable`);
          assert.equal(o.writable, t.access[1] === 'w', `${what} writable`);
          if (t.type === 'INTEGER') assert.deepEqual([o.min, o.max, o.step], [t.min, t.max, t.step], `${what} range`);
          if (t.type === 'ENUMERATED') assert.deepEqual(o.items, t.items, `${what} items`);
          if (t.dbMin !== undefined) {
            assert.ok(Math.abs(o.dbMin! - t.dbMin) < 0.005 && Math.abs(o.dbMax! - t.dbMax!) < 0.005, `${what} dB range ${o.dbMin}..${o.dbMax} vs ${t.dbMin}..${t.dbMax}`);
          } else assert.equal(o.dbMin, undefined, `${what} has no dB range in amixer`);
          if (o.readable) assert.deepEqual(ctl.read(t.numid), t.values, `${what} values`);
        }
        console.log(`      ${card}: ${ours.length} controls match (${ours.filter((e) => e.dbMin !== undefined).length} with dB ranges)`);
      } finally {
        ctl.close();
      }
    });
  }

  it('writes a control value that amixer reads, and reads one amixer wrote (Dummy)', function () {
    if (!cards.includes('Dummy')) this.skip(); // reason: no snd-dummy card
    const ctl = AlsaControl.open('hw:Dummy');
    try {
      const numid = ctl.find('Master Volume')!;
      const before = ctl.read(numid);
      ctl.write(numid, [17, -23]);
      assert.match(amixer('-c', 'Dummy', 'cget', `numid=${numid}`), /: values=17,-23/);
      amixer('-c', 'Dummy', 'cset', `numid=${numid}`, '42,-7');
      assert.deepEqual(ctl.read(numid), [42, -7]);
      const sw = ctl.find('Master Capture Switch')!;
      ctl.write(sw, [1, 0]);
      assert.match(amixer('-c', 'Dummy', 'cget', `numid=${sw}`), /: values=on,off/);
      ctl.write(sw, 0);
      ctl.write(numid, before);
    } finally {
      ctl.close();
    }
  });

  it(`lists the simple mixer elements of card Dummy as 'amixer scontents' does`, function () {
    if (!cards.includes('Dummy')) this.skip(); // reason: no snd-dummy card
    amixer('-c', 'Dummy', 'sset', 'Synth', '37'); // values that differ between elements
    amixer('-c', 'Dummy', 'sset', 'Line', 'cap');
    const theirs = parseAmixerScontents(amixer('-c', 'Dummy', 'scontents'));
    const mixer = AlsaMixer.open('hw:Dummy');
    try {
      const ours = mixer.list();
      assert.deepEqual(ours.map((e) => `${e.name},${e.index}`), theirs.map((e) => `${e.name},${e.index}`), 'the same elements in the same order');
      for (const [i, t] of theirs.entries()) {
        const o = ours[i]!;
        const what = `'${t.name}',${t.index}`;
        if (t.items.length) {
          assert.ok(o.enumerated, `${what} enumerated`);
          assert.deepEqual(o.items, t.items, `${what} items`);
          assert.equal(o.items![o.item!], t.item, `${what} current item`);
          continue;
        }
        if (t.playbackLimits) assert.deepEqual(o.playback?.volumeRange, t.playbackLimits, `${what} playback limits`);
        if (t.captureLimits) assert.deepEqual(o.capture?.volumeRange, t.captureLimits, `${what} capture limits`);
        assert.equal(o.commonVolume, t.capabilities.includes('volume'), `${what} common volume`);
        for (const [channel, v] of t.channels) {
          const p = o.playback?.channels.find((c) => c.channel === channel);
          const c = o.capture?.channels.find((x) => x.channel === channel);
          if (v.playback.volume !== undefined) assert.equal(p?.volume, v.playback.volume, `${what} ${channel} volume`);
          if (v.playback.db !== undefined) assert.ok(Math.abs(p!.db! - v.playback.db) < 0.005, `${what} ${channel} dB ${p?.db} vs ${v.playback.db}`);
          if (v.playback.switch !== undefined) assert.equal(p?.switch, v.playback.switch, `${what} ${channel} playback switch`);
          if (v.capture.volume !== undefined) assert.equal(c?.volume, v.capture.volume, `${what} ${channel} capture volume`);
          if (v.capture.switch !== undefined) assert.equal(c?.switch, v.capture.switch, `${what} ${channel} capture switch`);
        }
      }
      const synth = ours.find((e) => e.name === 'Synth')!;
      assert.deepEqual(synth.playback!.channels.map((c) => c.volume), [37, 37]);
      assert.ok(synth.playback!.dbRange, 'Synth has a dB range');
      console.log(`      Dummy: ${ours.length} simple elements match; Synth dB range ${synth.playback!.dbRange!.join('..')} dB`);
    } finally {
      mixer.close();
    }
  });

  it('sets simple mixer values that amixer reads back, and sees amixer\'s changes (Dummy)', function () {
    if (!cards.includes('Dummy')) this.skip(); // reason: no snd-dummy card
    const mixer = AlsaMixer.open('hw:Dummy');
    try {
      mixer.setVolume('Master', 55);
      assert.match(amixer('-c', 'Dummy', 'sget', 'Master'), /Front Left: 55 \[/);
      mixer.setSwitch('Mic', true, 'capture');
      assert.match(amixer('-c', 'Dummy', 'sget', 'Mic'), /Front Left: .*Capture \[on\]/);
      amixer('-c', 'Dummy', 'sset', 'Master', '20');
      assert.deepEqual(mixer.get('Master').playback!.channels.map((c) => c.volume), [20, 20]);
      mixer.setEnumItem('External I/O Box', 0);
      assert.match(amixer('-c', 'Dummy', 'sget', 'External I/O Box'), /Item0: 'None'/);
      mixer.setEnumItem('External I/O Box', 1);
    } finally {
      mixer.close();
    }
  });
});
