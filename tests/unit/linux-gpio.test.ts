/**
 * The pure parts of the GPIO character-device backend: uAPI v2 ioctl numbers, struct sizes and
 * offsets, and the packing of requests, values and events. Expected values are literals from
 * include/uapi/linux/gpio.h (ioctl numbers and layouts as gcc computes them from that header).
 */
import assert from 'node:assert/strict';
import {
  GPIO_GET_CHIPINFO_IOCTL, GPIO_V2_GET_LINEINFO_IOCTL, GPIO_V2_GET_LINE_IOCTL, GPIO_V2_LINE_GET_VALUES_IOCTL,
  GPIO_V2_LINE_SET_CONFIG_IOCTL, GPIO_V2_LINE_SET_VALUES_IOCTL, GPIO_V2_LINE_EVENT_SIZE, GPIO_V2_LINE_INFO_SIZE,
  GPIO_V2_LINE_REQUEST_SIZE, REQ_FD_OFFSET, configFlags, decodeChipInfo, decodeLineEvents, decodeLineInfo,
  encodeLineRequest, encodeLineValues, lineValueBit, requestFd,
} from '../../src/hal/linux/gpio.ts';

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);

describe('Linux GPIO uAPI v2 facts', () => {
  it('computes the ioctl numbers of gpio.h', () => {
    assert.equal(GPIO_GET_CHIPINFO_IOCTL, 0x8044b401);
    assert.equal(GPIO_V2_GET_LINEINFO_IOCTL, 0xc100b405);
    assert.equal(GPIO_V2_GET_LINE_IOCTL, 0xc250b407);
    assert.equal(GPIO_V2_LINE_SET_CONFIG_IOCTL, 0xc110b40d);
    assert.equal(GPIO_V2_LINE_GET_VALUES_IOCTL, 0xc010b40e);
    assert.equal(GPIO_V2_LINE_SET_VALUES_IOCTL, 0xc010b40f);
  });

  it('has the struct sizes of gpio.h', () => {
    assert.equal(GPIO_V2_LINE_REQUEST_SIZE, 592);
    assert.equal(GPIO_V2_LINE_INFO_SIZE, 256);
    assert.equal(GPIO_V2_LINE_EVENT_SIZE, 48);
    assert.equal(REQ_FD_OFFSET, 588);
  });

  it('maps line configurations to gpio_v2_line_flag bits', () => {
    // INPUT 1<<2, EDGE_RISING 1<<4, EDGE_FALLING 1<<5, ACTIVE_LOW 1<<1, BIAS_PULL_UP 1<<8, BIAS_PULL_DOWN 1<<9, BIAS_DISABLED 1<<10
    assert.equal(configFlags({ direction: 'input', edge: 'both', activeLow: true, bias: 'pull-up' }), 0x4 | 0x10 | 0x20 | 0x2 | 0x100);
    assert.equal(configFlags({ direction: 'input', edge: 'falling', bias: 'disabled' }), 0x4 | 0x20 | 0x400);
    assert.equal(configFlags({ direction: 'input', bias: 'pull-down' }), 0x4 | 0x200);
    // OUTPUT 1<<3, OPEN_DRAIN 1<<6, OPEN_SOURCE 1<<7
    assert.equal(configFlags({ direction: 'output', drive: 'open-drain' }), 0x8 | 0x40);
    assert.equal(configFlags({ direction: 'output', drive: 'open-source', activeLow: true }), 0x8 | 0x80 | 0x2);
  });

  it('packs a line request with edges and a debounce attribute', () => {
    const b = encodeLineRequest([3, 7], { direction: 'input', edge: 'rising', debounceUs: 5000 }, 'sbc');
    assert.equal(b.length, 592);
    assert.equal(u32(b, 0), 3);
    assert.equal(u32(b, 4), 7);
    assert.equal(new TextDecoder().decode(b.subarray(256, 259)), 'sbc');
    assert.equal(b[259], 0);
    assert.equal(u32(b, 288), 0x4 | 0x10, 'config.flags');
    assert.equal(u32(b, 288 + 8), 1, 'config.num_attrs');
    assert.equal(u32(b, 288 + 32), 3, 'attrs[0].attr.id = GPIO_V2_LINE_ATTR_ID_DEBOUNCE');
    assert.equal(u32(b, 288 + 32 + 8), 5000, 'attrs[0].attr.debounce_period_us');
    assert.equal(u32(b, 288 + 32 + 16), 0b11, 'attrs[0].mask: both lines');
    assert.equal(u32(b, 560), 2, 'num_lines');
    assert.equal(u32(b, 564), 0, 'event_buffer_size: kernel default');
    assert.equal(requestFd(b), -1);
  });

  it('packs an output request with its initial values', () => {
    const b = encodeLineRequest([1, 2, 4], { direction: 'output', initial: 1 }, 'x');
    assert.equal(u32(b, 288), 0x8);
    assert.equal(u32(b, 288 + 8), 1);
    assert.equal(u32(b, 288 + 32), 2, 'GPIO_V2_LINE_ATTR_ID_OUTPUT_VALUES');
    assert.equal(u32(b, 288 + 32 + 8), 0b111, 'values');
    assert.equal(u32(b, 288 + 32 + 16), 0b111, 'mask');
    const low = encodeLineRequest([1], { direction: 'output', initial: 0 }, 'x');
    assert.equal(u32(low, 288 + 32 + 8), 0);
    assert.equal(u32(low, 288 + 32 + 16), 1);
    assert.throws(() => encodeLineRequest([], { direction: 'input' }, 'x'), RangeError);
  });

  it('packs and reads line values by request index, past 32 lines too', () => {
    const v = encodeLineValues(33, 1);
    assert.deepEqual([u32(v, 0), u32(v, 4), u32(v, 8), u32(v, 12)], [0, 2, 0, 2]);
    const w = encodeLineValues(0, 0);
    assert.deepEqual([u32(w, 0), u32(w, 8)], [0, 1]);
    assert.equal(lineValueBit(v, 33), 1);
    assert.equal(lineValueBit(v, 32), 0);
  });

  it('decodes chip info, line info and events', () => {
    const chip = new Uint8Array(68);
    chip.set(new TextEncoder().encode('gpiochip3'), 0);
    chip.set(new TextEncoder().encode('gpio-sim.0-node0'), 32);
    new DataView(chip.buffer).setUint32(64, 8, true);
    assert.deepEqual(decodeChipInfo(chip), { name: 'gpiochip3', label: 'gpio-sim.0-node0', lines: 8 });

    const info = new Uint8Array(256);
    const iv = new DataView(info.buffer);
    info.set(new TextEncoder().encode('BUTTON'), 0);
    info.set(new TextEncoder().encode('sbc'), 32);
    iv.setUint32(64, 5, true);
    iv.setUint32(68, 1, true);
    iv.setUint32(72, 0x1 | 0x2 | 0x4 | 0x10, true); // USED | ACTIVE_LOW | INPUT | EDGE_RISING
    iv.setUint32(80, 3, true); // DEBOUNCE
    iv.setUint32(88, 1000, true);
    const li = decodeLineInfo(info);
    assert.equal(li.offset, 5);
    assert.equal(li.name, 'BUTTON');
    assert.equal(li.consumer, 'sbc');
    assert.equal(li.used, true);
    assert.equal(li.activeLow, true);
    assert.equal(li.direction, 'input');
    assert.equal(li.debounceUs, 1000);

    const ev = new Uint8Array(96);
    const ov = new DataView(ev.buffer);
    ov.setUint32(0, 0x89abcdef, true); ov.setUint32(4, 0x12, true); // timestamp 0x12_89abcdef ns
    ov.setUint32(8, 1, true); ov.setUint32(12, 4, true); ov.setUint32(16, 7, true); ov.setUint32(20, 3, true);
    ov.setUint32(48 + 8, 2, true); ov.setUint32(48 + 12, 4, true); ov.setUint32(48 + 16, 8, true); ov.setUint32(48 + 20, 4, true);
    assert.deepEqual(decodeLineEvents(ev), [
      { timestampNs: 0x12_89abcdef, edge: 'rising', offset: 4, seqno: 7, lineSeqno: 3 },
      { timestampNs: 0, edge: 'falling', offset: 4, seqno: 8, lineSeqno: 4 },
    ]);
  });
});
