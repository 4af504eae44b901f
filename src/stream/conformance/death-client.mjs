// A client for the conformance check of R-RB-12 (client death → silence): plain JavaScript, so it
// runs as a child process with no loader. It owns the output stream, sets its gain to 0 dB (or the
// nearest the stream allows) unmuted, fills a ring buffer with a square wave (±8000, 100 frames a
// period, repeating exactly around the ring), STARTs, prints one JSON line
// {startNs, fifoBytes, minFrames, frames, gain}, and plays until it is killed.
// Usage: node death-client.mjs ENDPOINT FPS CHANNELS   (16-bit samples)
// Wire values are literals from docs/facts/stream-protocol.md.
import net from 'node:net';
import { openSync, writeSync, closeSync } from 'node:fs';

const [endpoint, fpsArg, chArg] = process.argv.slice(2);
const fps = Number(fpsArg);
const channels = Number(chArg);
const le32 = (n) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const f32 = (x) => { const b = Buffer.alloc(4); b.writeFloatLE(x, 0); return [...b]; };

function connect(p) {
  return new Promise((resolve, reject) => {
    const s = net.connect(p);
    const frames = [];
    let buf = Buffer.alloc(0);
    let wake = () => {};
    s.on('data', (c) => {
      buf = Buffer.concat([buf, c]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32LE(0)) {
        const len = buf.readUInt32LE(0);
        frames.push(buf.subarray(4, 4 + len));
        buf = buf.subarray(4 + len);
      }
      wake();
    });
    s.on('close', () => { process.stderr.write(`death-client: ${p}: connection closed\n`); process.exit(3); });
    s.once('error', reject);
    s.once('connect', () => {
      let txid = 1;
      resolve({
        sendRaw: (bytes) => s.write(Buffer.from([...le32(bytes.length), ...bytes])),
        async ask(cmd, body = []) {
          const id = txid++;
          s.write(Buffer.from([...le32(8 + body.length), ...le32(id), ...le32(cmd), ...body]));
          for (;;) {
            const i = frames.findIndex((f) => f.readUInt32LE(0) === id);
            if (i >= 0) return frames.splice(i, 1)[0];
            await new Promise((r) => { wake = r; });
          }
        },
      });
    });
  });
}

const a = await connect(endpoint);
for (let i = 0; ; i++) {
  const r = await a.ask(0x1003, [...le32(0), ...f32(0)]);
  if (r.readInt32LE(8) !== -30) break;
  if (i > 200) throw new Error('another client owns the stream');
  await new Promise((res) => setTimeout(res, 20));
}
const g = await a.ask(0x1002);
const canMute = g[16] !== 0;
const minGain = g.readFloatLE(20);
const maxGain = g.readFloatLE(24);
const gain = Math.min(maxGain, Math.max(minGain, 0));
await a.ask(0x1003, [...le32(0x4 | (canMute ? 0x1 : 0)), ...f32(gain)]);
const sf = await a.ask(0x1001, [...le32(fps), ...le32(1 << 2), channels & 0xff, 0, 0, 0, 0, 0, 0, 0, ...le32(0), ...le32(0)]);
if (sf.readInt32LE(8) !== 0 || sf.length < 40) throw new Error(`SET_FORMAT answered ${sf.readInt32LE(8)}`);
const rb = await connect(endpoint);
rb.sendRaw([...sf.subarray(24, 40)]);
const fifo = await rb.ask(0x3000);
const min = await rb.ask(0x3001, [...le32(1), ...le32(0)]);
const frames = Math.ceil((fps * 2) / 100) * 100;
const gb = await rb.ask(0x3001, [...le32(frames), ...le32(0)]);
if (gb.readInt32LE(8) !== 0) throw new Error(`GET_BUFFER answered ${gb.readInt32LE(8)}`);
const got = gb.readUInt32LE(12);
const file = gb.subarray(16).toString('utf8');
const ring = Buffer.alloc(got * channels * 2);
for (let n = 0; n < got; n++) for (let c = 0; c < channels; c++) ring.writeInt16LE(n % 100 < 50 ? 8000 : -8000, (n * channels + c) * 2);
const fd = openSync(file, 'r+');
writeSync(fd, ring, 0, ring.length, 0);
closeSync(fd);
const s = await rb.ask(0x3002);
if (s.readInt32LE(8) !== 0) throw new Error(`START answered ${s.readInt32LE(8)}`);
process.stdout.write(`${JSON.stringify({ startNs: s.readBigInt64LE(16).toString(), fifoBytes: fifo.readUInt32LE(12), minFrames: min.readUInt32LE(12), frames: got, gain })}\n`);
setInterval(() => {}, 1000);
