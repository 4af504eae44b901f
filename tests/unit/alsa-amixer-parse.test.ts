/** The amixer parsers of the guest mixer check, on output captured from alsa-utils 1.2.8 in the guest. */
import assert from 'node:assert/strict';
import { parseAmixerContents, parseAmixerScontents } from '../hil/guest/alsa-amixer-parse.ts';

const CONTENTS = `numid=1,iface=MIXER,name='Master Volume'
  ; type=INTEGER,access=rw---R--,values=2,min=-50,max=100,step=0
  : values=0,0
  | dBscale-min=-45.00dB,step=0.30dB,mute=0
numid=2,iface=MIXER,name='Master Capture Switch'
  ; type=BOOLEAN,access=rw------,values=2
  : values=off,on
numid=11,iface=MIXER,name='External I/O Box'
  ; type=ENUMERATED,access=rw------,values=1,items=2
  ; Item #0 'None'
  ; Item #1 'CD Player'
  : values=1
numid=56,iface=PCM,name='PCM Notify',device=1,subdevice=1
  ; type=BOOLEAN,access=rw------,values=1
  : values=off
`;

const SCONTENTS = `Simple mixer control 'Master',0
  Capabilities: volume cswitch
  Playback channels: Front Left - Front Right
  Capture channels: Front Left - Front Right
  Limits: -50 - 100
  Front Left: 0 [33%] [-30.00dB] Capture [off]
  Front Right: 12 [41%] [-26.40dB] Capture [on]
Simple mixer control 'External I/O Box',0
  Capabilities: enum
  Items: 'None' 'CD Player'
  Item0: 'CD Player'
Simple mixer control 'PCM',1
  Capabilities: pvolume pswitch
  Playback channels: Mono
  Limits: Playback 0 - 255
  Mono: Playback 200 [78%] [-5.50dB] [on]
`;

describe('amixer output parsers (guest mixer check)', () => {
  it('parses contents: ids, types, ranges, items, values, dB scale', () => {
    const c = parseAmixerContents(CONTENTS);
    assert.equal(c.length, 4);
    assert.deepEqual({ ...c[0], items: undefined }, {
      numid: 1, iface: 'MIXER', name: 'Master Volume', index: 0, device: 0, subdevice: 0, type: 'INTEGER', access: 'rw---R--', count: 2,
      min: -50, max: 100, step: 0, items: undefined, values: [0, 0], dbMin: -45, dbMax: 0,
    });
    assert.deepEqual(c[1]!.values, [0, 1]);
    assert.deepEqual(c[2]!.items, ['None', 'CD Player']);
    assert.deepEqual(c[2]!.values, [1]);
    assert.equal(c[3]!.device, 1);
    assert.equal(c[3]!.subdevice, 1);
  });

  it('parses scontents: limits, per-channel values and switches, enums', () => {
    const s = parseAmixerScontents(SCONTENTS);
    assert.deepEqual(s.map((e) => `${e.name},${e.index}`), ['Master,0', 'External I/O Box,0', 'PCM,1']);
    assert.deepEqual(s[0]!.playbackLimits, [-50, 100]);
    assert.deepEqual(s[0]!.channels.get('Front Right'), { playback: { volume: 12, db: -26.4 }, capture: { switch: true } });
    assert.deepEqual(s[0]!.channels.get('Front Left'), { playback: { volume: 0, db: -30 }, capture: { switch: false } });
    assert.deepEqual(s[1]!.items, ['None', 'CD Player']);
    assert.equal(s[1]!.item, 'CD Player');
    assert.deepEqual(s[2]!.playbackLimits, [0, 255]);
    assert.deepEqual(s[2]!.channels.get('Mono'), { playback: { volume: 200, db: -5.5, switch: true }, capture: {} });
  });
});
