/**
 * alsa-lib's own messages are caught and folded into the project's error instead of printed to
 * stderr before it (issue 25: "ALSA library messages captured and folded into the project's error").
 * Real libasound on this machine, which has no sound card: `default` then fails in the configuration
 * (alsa-lib's confmisc.c "cannot find card '0'" … pcm.c "Unknown PCM default") and an unknown name
 * with "Unknown PCM <name>". alsa-lib writes with C stdio to descriptor 2, so each case runs in a child
 * process (alsa-lib-messages-child.ts) whose stderr is read whole.
 * Controls: the same open without the capture prints those lines (the harness can see them), and a
 * raw open after a capture prints again (the handler does not outlive the capture).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..');
const CHILD = path.join(ROOT, 'tests/unit/alsa-lib-messages-child.ts');
const BIN = path.join(ROOT, 'bin/sbc-audio.js');

/** True when this machine has a sound card: the `default` cases then open instead of failing. */
const hasCard = (() => {
  try {
    return !/no soundcards/.test(readFileSync('/proc/asound/cards', 'utf8'));
  } catch {
    return false;
  }
})();

function child(kind: string, name: string): { out: Record<string, unknown>; stderr: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CHILD, kind, name], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
  assert.equal(r.status, 0, `child ${kind} ${name} exited ${r.status}: ${r.stderr}`);
  return { out: JSON.parse(r.stdout.trim()) as Record<string, unknown>, stderr: r.stderr };
}

const ALSA_LINE = /^ALSA lib \S+:\d+:\(\w+\) /m;

describe('alsa-lib messages folded into the error (real libasound)', function () {
  this.timeout(120000);

  it('control: without the capture alsa-lib prints "Unknown PCM" to stderr', () => {
    const { out, stderr } = child('raw', 'sbcaudio_nosuchpcm');
    assert.ok((out.rc as number) < 0, 'the open failed');
    assert.match(stderr, ALSA_LINE);
    assert.match(stderr, /Unknown PCM sbcaudio_nosuchpcm/);
  });

  it('an unknown PCM name: nothing on stderr, alsa-lib\'s line in the error', () => {
    const { out, stderr } = child('captured', 'sbcaudio_nosuchpcm');
    assert.equal(stderr, '');
    assert.equal(out.message, 'snd_pcm_open(sbcaudio_nosuchpcm): No such file or directory (-2); alsa-lib: Unknown PCM sbcaudio_nosuchpcm');
    const said = out.alsaMessages as { text: string; function: string }[];
    assert.equal(said.length, 1);
    assert.equal(said[0]!.function, 'snd_pcm_open_noupdate');
  });

  it('a card that does not exist: the configuration\'s reason, errno text appended as alsa-lib does', () => {
    const { out, stderr } = child('captured', 'hw:CARD=SbcNoSuchCard,DEV=0');
    assert.equal(stderr, '');
    assert.match(out.message as string, /^snd_pcm_open\(hw:CARD=SbcNoSuchCard,DEV=0\): No such (device|file or directory) \(-\d+\); alsa-lib: .*SbcNoSuchCard/);
  });

  it('`default` without a card: the first and the last of the chain, and how many', function () {
    if (hasCard) this.skip(); // written reason: with a card `default` opens; the chain exists only without one
    const { out, stderr } = child('captured', 'default');
    assert.equal(stderr, '');
    const said = out.alsaMessages as { text: string }[];
    assert.ok(said.length >= 3, `a chain of messages, got ${said.length}`);
    assert.equal(said[said.length - 1]!.text, 'Unknown PCM default');
    assert.equal(out.message, `snd_pcm_open(default): No such file or directory (-2); alsa-lib: ${said[0]!.text} … Unknown PCM default (${said.length} messages)`);
    // Formatted from the va_list: the card number is in the text, and err's text is appended.
    assert.ok(said.some((m) => /cannot find card '0'/.test(m.text)), JSON.stringify(said));
    assert.ok(said.some((m) => /returned error: No such file or directory$/.test(m.text)), JSON.stringify(said));
  });

  it('in a worker thread (where the engine opens its PCMs) the same', () => {
    const { out, stderr } = child('worker', 'sbcaudio_nosuchpcm');
    assert.equal(stderr, '');
    assert.match(out.message as string, /; alsa-lib: Unknown PCM sbcaudio_nosuchpcm$/);
  });

  it('the PCM backend (open and negotiation) carries them into its PcmError', () => {
    const { out, stderr } = child('backend', 'sbcaudio_nosuchpcm');
    assert.equal(stderr, '');
    assert.match(out.message as string, /^PCM sbcaudio_nosuchpcm open: snd_pcm_open\(sbcaudio_nosuchpcm\): .*; alsa-lib: Unknown PCM sbcaudio_nosuchpcm$/);
  });

  it('control and mixer opens capture too', () => {
    for (const kind of ['control', 'mixer']) {
      const { out, stderr } = child(kind, 'hw:CARD=SbcNoSuchCard');
      assert.equal(stderr, '', kind);
      assert.match(out.message as string, /; alsa-lib: .*SbcNoSuchCard/, kind);
    }
  });

  it('the handler ends with the capture: a raw open afterwards prints again', () => {
    const { out, stderr } = child('captured-then-raw', 'sbcaudio_nosuchpcm');
    assert.match(((out.captured as Record<string, unknown>).message as string), /alsa-lib: Unknown PCM/);
    assert.ok(((out.raw as Record<string, unknown>).rc as number) < 0);
    assert.equal(stderr.match(/Unknown PCM sbcaudio_nosuchpcm/g)?.length, 1, `exactly the raw open's line: ${stderr}`);
  });

  it('a successful open says nothing and returns the PCM', () => {
    const { out, stderr } = child('captured', 'null');
    assert.deepEqual(out, { opened: true });
    assert.equal(stderr, '');
  });

  it('the CLI: one line naming the PCM and alsa-lib\'s reason, exit 1', () => {
    const r = spawnSync(process.execPath, [BIN, 'run', '--playback', 'sbcaudio_nosuchpcm', '--host', 'examples/tone.ts', '--seconds', '1'], { cwd: ROOT, encoding: 'utf8', timeout: 60000 });
    assert.equal(r.status, 1, r.stderr);
    assert.doesNotMatch(r.stderr, ALSA_LINE);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^sbc-audio run: sbcaudio_nosuchpcm: cannot open for playback .*; alsa-lib: Unknown PCM sbcaudio_nosuchpcm$/);
  });
});
