/**
 * `sbc-audio doctor`: what a board needs from the machine, each check passing or failing with the
 * fix. The checks read files under a host root (./host.ts: sysfs, procfs, /dev, /run, /etc) and
 * reach the codec and the GPIO lines through a HAL, so tests build each failing case from a fake
 * tree and a simulated HAL. `serve` runs the hardware checks before it publishes anything
 * (`hardwareProblems`).
 *
 * Facts: docs/facts/boards.md#who-owns-what-on-a-pi (the kernel's codec driver binds the address;
 * i2c-dev and dtparam=i2c_arm=on give /dev/i2c-1), #building-and-installing-an-overlay (the card id).
 */
import { existsSync, lstatSync, readFileSync, readlinkSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { loadCodecPart } from '../../codecs/index.ts';
import type { Board } from '../board/schema.ts';
import type { GpioChip } from '../hal/gpio.ts';
import type { Hal } from '../hal/index.ts';
import { listEndpoints } from '../stream/discovery.ts';
import { groupByName } from '../util/groups.ts';
import { type ClockSyncOptions, type ClockSyncState, readClockSync } from './clock-sync.ts';
import { type HostRoot, parseAsoundCards, parseLimits } from './host.ts';

export type CheckId = 'i2c-bus' | 'codec-not-bound' | 'codec-answers' | 'alsa-card' | 'gpio-lines' | 'memlock' | 'rtprio' | 'runtime-dir' | 'service' | 'clock-sync';
/** `warn`: worth fixing, but the board still works (doctor's exit status counts `fail` only). */
export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface CheckResult {
  id: CheckId;
  status: CheckStatus;
  /** What was found. */
  detail: string;
  /** What to do about a failure or a warning (empty when it passed). */
  fix: string;
}

/** The HAL parts the checks use: the codec's bus and the GPIO chips. */
export type DoctorHal = Pick<Hal, 'i2cBus' | 'gpioChip' | 'clock'>;

export interface DoctorOptions {
  root: HostRoot;
  /** Opened on first use (the Linux HAL on a running system). */
  hal: () => Promise<DoctorHal>;
  /** The runtime directory the service publishes in (default /run/sbc-audio under the root). */
  runtimeDir?: string;
  /** The group that may connect (default 'audio'). */
  group?: string;
  /** The effective uid of this process (tests: another). */
  uid?: number;
  /** The /proc/PID/limits file to read (default <root>/proc/self/limits). */
  limitsFile?: string;
  /**
   * Where the clock-sync check asks (chronyc / pmc programs and sockets; default: the programs on
   * PATH and their default sockets), or a reader that gives the state (tests).
   */
  clockSync?: ClockSyncOptions | (() => Promise<ClockSyncState>);
}

const hex2 = (n: number) => n.toString(16).padStart(2, '0');

/** The sysfs name of an I2C client: '1-004d'. */
export function i2cClientName(bus: number, addr: number): string {
  return `${bus}-00${hex2(addr)}`;
}

function setupHint(board: Board): string {
  return `sbc-audio setup --board ${board.name} --apply, then reboot`;
}

function pass(id: CheckId, detail: string): CheckResult {
  return { id, status: 'pass', detail, fix: '' };
}
function fail(id: CheckId, detail: string, fix: string): CheckResult {
  return { id, status: 'fail', detail, fix };
}
function warn(id: CheckId, detail: string, fix: string): CheckResult {
  return { id, status: 'warn', detail, fix };
}
function skip(id: CheckId, detail: string): CheckResult {
  return { id, status: 'skip', detail, fix: '' };
}

/** /dev/i2c-N: present where i2c-dev is loaded and the bus enabled. */
export function checkI2cBus(board: Board, root: HostRoot): CheckResult {
  const { bus } = board.codec;
  if (bus === undefined) return skip('i2c-bus', `the ${board.codec.part} has no control bus`);
  const dev = `/dev/i2c-${bus}`;
  if (existsSync(root.at(dev))) return pass('i2c-bus', `${dev} is there`);
  const adapter = existsSync(root.at(`/sys/bus/i2c/devices/i2c-${bus}`));
  return adapter
    ? fail('i2c-bus', `${dev} is missing but the kernel has bus i2c-${bus}: the i2c-dev module is not loaded`,
      `sudo modprobe i2c-dev, and add a line i2c-dev to /etc/modules (${setupHint(board)} does both)`)
    : fail('i2c-bus', `${dev} is missing and the kernel has no bus i2c-${bus}`,
      `enable the bus with dtparam=i2c_arm=on in /boot/firmware/config.txt and load i2c-dev (${setupHint(board)})`);
}

/** The codec's address must not be bound to a kernel driver (the HAT's overlay binds one). */
export function checkCodecNotBound(board: Board, root: HostRoot): CheckResult {
  const { bus, address } = board.codec;
  if (bus === undefined || address === undefined) return skip('codec-not-bound', `the ${board.codec.part} has no control bus`);
  const client = `/sys/bus/i2c/devices/${i2cClientName(bus, address)}`;
  const driverLink = root.at(`${client}/driver`);
  let driver: string | undefined;
  try {
    driver = path.basename(readlinkSync(driverLink));
  } catch {
    driver = existsSync(driverLink) ? '?' : undefined;
  }
  if (driver === undefined) return pass('codec-not-bound', `no kernel driver is bound to 0x${hex2(address)} on i2c-${bus}`);
  const hat = board.overlay?.replaces.length ? `remove dtoverlay=${board.overlay.replaces.join(' / ')} from /boot/firmware/config.txt` : "remove the HAT's own dtoverlay line from /boot/firmware/config.txt";
  return fail('codec-not-bound', `0x${hex2(address)} on i2c-${bus} is bound to the kernel driver ${driver} (${client}/driver): sbc-audio's I2C access gets EBUSY`,
    `${hat} and use dtoverlay=${board.overlay?.name ?? '(the board\'s overlay)'} (${setupHint(board)}); until the reboot: echo ${i2cClientName(bus, address)} | sudo tee /sys/bus/i2c/drivers/${driver}/unbind`);
}

/** The codec answers as its description's `probe` says. */
export async function checkCodecAnswers(board: Board, hal: () => Promise<DoctorHal>, before: CheckResult[]): Promise<CheckResult> {
  const { bus, address } = board.codec;
  if (bus === undefined || address === undefined) return skip('codec-answers', `the ${board.codec.part} has no control bus`);
  const blocked = before.find((c) => (c.id === 'i2c-bus' || c.id === 'codec-not-bound') && c.status === 'fail');
  if (blocked) return skip('codec-answers', `not tried: ${blocked.id} failed`);
  const part = await loadCodecPart(board.codec.part);
  const probe = part.description.probe;
  if (!probe || 'none' in probe) return skip('codec-answers', `the ${board.codec.part} cannot be probed: ${probe && 'none' in probe ? probe.none : 'no probe'}`);
  try {
    const h = await hal();
    const driver = part.createDriver({
      clock: h.clock, bus: await h.i2cBus(bus), addr: address, gpio: new Map(), options: board.codec.options,
      sleepMs: (ms) => h.clock.sleepUntilNs(h.clock.nowNs() + ms * 1e6),
    });
    await driver.probe();
  } catch (e) {
    return fail('codec-answers', (e as Error).message,
      `check that the board is seated and powered and answers at 0x${hex2(address)}: sudo i2cdetect -y ${bus} (a number, not UU, at ${hex2(address)})`);
  }
  const how = [probe.reg, ...(probe.alsoReads ?? [])].join(', ');
  return pass('codec-answers', `the ${board.codec.part} answers at 0x${hex2(address)} on i2c-${bus} (read ${how}${probe.id ? ', identity as expected' : ''})`);
}

/** The board's ALSA card is in /proc/asound/cards. */
export function checkAlsaCard(board: Board, root: HostRoot): CheckResult {
  const id = board.alsaCard;
  if (!id) return skip('alsa-card', 'the board names no ALSA card');
  let text = '';
  try {
    text = readFileSync(root.at('/proc/asound/cards'), 'utf8');
  } catch {
    // no sound support at all: no cards
  }
  const cards = parseAsoundCards(text);
  if (cards.some((c) => c.id === id)) return pass('alsa-card', `card ${id} is in /proc/asound/cards`);
  const overlay = board.overlay ? `dtoverlay=${board.overlay.name}` : 'the overlay that creates it';
  return fail('alsa-card', `card ${id} is not in /proc/asound/cards (cards: ${cards.map((c) => c.id).join(', ') || 'none'})`,
    `put dtparam=i2s=on and ${overlay} in /boot/firmware/config.txt (${setupHint(board)}); aplay -l lists the cards`);
}

/**
 * Each GPIO line of the board: its chip is there and nobody holds the line — but the service itself
 * (consumer 'sbc-audio ROLE', the board's streams published): a running service holds its lines.
 */
export async function checkGpioLines(board: Board, hal: () => Promise<DoctorHal>, servicePublishes = false): Promise<CheckResult> {
  const specs = Object.entries(board.gpio);
  if (specs.length === 0) return skip('gpio-lines', 'the board uses no GPIO line');
  const problems: string[] = [];
  const ok: string[] = [];
  for (const [role, spec] of specs) {
    let chip: GpioChip;
    try {
      chip = await (await hal()).gpioChip(spec.chip);
    } catch (e) {
      problems.push(`${role}: no GPIO chip ${spec.chip} (${(e as Error).message})`);
      continue;
    }
    const offset = typeof spec.line === 'number' ? spec.line : chip.findLine(spec.line);
    if (offset === undefined || offset >= chip.info().lines) {
      problems.push(`${role}: chip ${spec.chip} has no line ${spec.line}`);
      continue;
    }
    const info = chip.lineInfo(offset);
    if (info.used && servicePublishes && info.consumer === `sbc-audio ${role}`) ok.push(`${role} (${spec.chip} line ${offset}, held by the running service)`);
    else if (info.used) problems.push(`${role}: line ${offset} of ${spec.chip} is held by '${info.consumer || 'the kernel'}'`);
    else ok.push(`${role} (${spec.chip} line ${offset})`);
  }
  if (problems.length === 0) return pass('gpio-lines', `free: ${ok.join(', ')}`);
  return fail('gpio-lines', problems.join('; '),
    `gpioinfo shows who holds each line: stop that program (or the sbc-audio service, if it is the one), or remove the overlay that claims the line${board.overlay?.replaces.length ? ` (e.g. dtoverlay=${board.overlay.replaces.join(' / ')})` : ''}`);
}

function readLimits(opts: DoctorOptions): ReturnType<typeof parseLimits> | undefined {
  try {
    return parseLimits(readFileSync(opts.limitsFile ?? opts.root.at('/proc/self/limits'), 'utf8'));
  } catch {
    return undefined;
  }
}

export function checkMemlock(opts: DoctorOptions): CheckResult {
  const l = readLimits(opts);
  if (l?.memlockSoft === undefined) return fail('memlock', 'cannot read the memlock limit (/proc/self/limits)', 'run on Linux with /proc mounted');
  if (l.memlockSoft === Infinity) return pass('memlock', 'the memlock limit is unlimited: the engine locks its memory');
  return fail('memlock', `the memlock limit is ${l.memlockSoft} bytes: the engine does not lock its memory (page faults can cost an underrun)`,
    'the service unit has LimitMEMLOCK=infinity (systemd/sbc-audio.service); run as the service, or set memlock unlimited in /etc/security/limits.conf');
}

export function checkRtprio(opts: DoctorOptions): CheckResult {
  const uid = opts.uid ?? process.geteuid?.() ?? -1;
  const l = readLimits(opts);
  if (uid === 0) return pass('rtprio', 'running as root: SCHED_FIFO is allowed');
  if (l?.rtprioSoft === undefined) return fail('rtprio', 'cannot read the real-time priority limit (/proc/self/limits)', 'run on Linux with /proc mounted');
  if (l.rtprioSoft > 0) return pass('rtprio', `real-time priority up to ${l.rtprioSoft} is allowed`);
  return fail('rtprio', 'the real-time priority limit is 0: SCHED_FIFO is refused',
    'the service unit has LimitRTPRIO=95 (systemd/sbc-audio.service); for a user: an rtprio line in /etc/security/limits.conf, or CAP_SYS_NICE');
}

/** The runtime directory: a real directory, owned by root (or by this user), nothing for others, the service's group. */
export function checkRuntimeDir(opts: DoctorOptions): CheckResult {
  const dir = opts.runtimeDir ?? opts.root.at('/run/sbc-audio');
  const groupName = opts.group ?? 'audio';
  const uid = opts.uid ?? process.geteuid?.() ?? -1;
  const fix = `the service makes it (RuntimeDirectory=sbc-audio, RuntimeDirectoryMode=0750, Group=${groupName}): sudo systemctl restart sbc-audio; by hand: sudo chown root:${groupName} ${dir} && sudo chmod 0750 ${dir}`;
  let st;
  try {
    st = lstatSync(dir);
  } catch {
    return fail('runtime-dir', `${dir} does not exist (the service is not running, or runs elsewhere)`, fix);
  }
  if (st.isSymbolicLink() || !st.isDirectory()) return fail('runtime-dir', `${dir} is not a directory (a ${st.isSymbolicLink() ? 'symbolic link' : 'file'}): not used`, `remove it, then: ${fix}`);
  const problems: string[] = [];
  if (st.uid !== 0 && st.uid !== uid) problems.push(`owned by uid ${st.uid}, not root`);
  if (st.mode & 0o002) problems.push('writable by anyone');
  else if (st.mode & 0o007) problems.push('open to others');
  const group = groupByName(groupName, opts.root.at('/etc/group'));
  if (!group) problems.push(`no group ${groupName} in /etc/group`);
  else if (st.uid === 0 && st.gid !== group.gid) problems.push(`group ${st.gid}, not ${groupName} (${group.gid})`);
  const mode = (st.mode & 0o7777).toString(8).padStart(4, '0');
  if (problems.length) return fail('runtime-dir', `${dir} (mode ${mode}): ${problems.join(', ')}`, fix);
  return pass('runtime-dir', `${dir}: mode ${mode}, owner ${st.uid === 0 ? 'root' : `uid ${st.uid}`}, group ${groupName}`);
}

function connects(p: string): Promise<'ok' | string> {
  return new Promise((resolve) => {
    const s = net.connect(p);
    s.once('connect', () => { s.destroy(); resolve('ok'); });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

/** The service publishes this board's streams and accepts a connection. */
export async function checkService(board: Board, opts: DoctorOptions): Promise<CheckResult> {
  const dir = opts.runtimeDir ?? opts.root.at('/run/sbc-audio');
  const start = `sudo systemctl enable --now sbc-audio (after ${setupHint(board)}); its log: journalctl -u sbc-audio`;
  let mine;
  try {
    mine = boardEndpoints(board, dir);
  } catch (e) {
    // The runtime directory is closed to this user (listEndpoints: "permission denied: DIR (join group G)").
    const g = opts.group ?? 'audio';
    return fail('service', (e as Error).message, `sudo usermod -aG ${g} $USER, then log in again`);
  }
  if (mine.length === 0) return fail('service', `no stream of board ${board.name} under ${dir}`, start);
  const r = await connects(mine[0]!.path);
  if (r === 'EACCES') {
    const g = opts.group ?? 'audio';
    return fail('service', `permission denied: ${mine[0]!.path} (join group ${g})`, `sudo usermod -aG ${g} $USER, then log in again`);
  }
  if (r !== 'ok') return fail('service', `${mine[0]!.path} does not accept connections (${r})`, start);
  return pass('service', `${mine.length} stream${mine.length === 1 ? '' : 's'} of ${board.name} published under ${dir}, accepting connections`);
}

/** The board's endpoints under the runtime directory (throws where the directory is closed to this user). */
function boardEndpoints(board: Board, dir: string) {
  return listEndpoints(dir).filter((e) => e.name.startsWith(`${board.name}.`));
}

/**
 * What an appliance's clock needs: deploy/chrony/ and docs/deploy-raspberry-pi.md (issue 28). setup
 * takes --board always (src/cli/commands/setup.ts), so the line names the board doctor checks.
 */
export function clockSyncFix(board: Board): string {
  return `sudo apt-get install chrony, then sbc-audio setup --board ${board.name} --time-server (the appliance that serves time) or --time-from HOST (the others) --apply, `
    + 'and sudo systemctl enable --now chrony; chronyc tracking shows the state';
}

/**
 * The system clock disciplined by chronyd or ptp4l (./clock-sync.ts). A warning, not a failure:
 * audio plays with a free-running clock; the appliances' logs and measurements disagree in time.
 */
export async function checkClockSync(board: Board, opts: DoctorOptions): Promise<CheckResult> {
  const fix = clockSyncFix(board);
  const read = typeof opts.clockSync === 'function' ? opts.clockSync : () => readClockSync(opts.clockSync as ClockSyncOptions | undefined);
  let s: ClockSyncState;
  try {
    s = await read();
  } catch (e) {
    return warn('clock-sync', `cannot read the clock's sync state: ${(e as Error).message}`, fix);
  }
  if (s.synchronised === true) return pass('clock-sync', s.detail);
  // chronyd has a source but the clock is still far off (chronyc(1): `makestep` with no arguments steps it now).
  if (s.source === 'chrony' && s.offsetNs !== undefined) return warn('clock-sync', s.detail, 'sudo chronyc makestep steps the clock now; for the next boot, chronyd steps it only where makestep in /etc/chrony/chrony.conf allows; chronyc tracking shows the state');
  if (s.source === 'ptp4l') return warn('clock-sync', s.detail, "check ptp4l's grandmaster and network: pmc -u -b 0 'GET TIME_STATUS_NP' 'GET PORT_DATA_SET'; or use chrony: " + fix);
  return warn('clock-sync', s.detail, fix);
}

/** Every check, in the order `doctor` prints them. */
export async function runDoctor(board: Board, opts: DoctorOptions): Promise<CheckResult[]> {
  if (board.hal === 'sim') {
    const why = `board ${board.name} is simulated: no hardware to check`;
    const hw = (['i2c-bus', 'codec-not-bound', 'codec-answers', 'alsa-card', 'gpio-lines'] as const).map((id) => skip(id, why));
    return [...hw, checkMemlock(opts), checkRtprio(opts), checkRuntimeDir(opts), await checkService(board, opts), await checkClockSync(board, opts)];
  }
  const out: CheckResult[] = [checkI2cBus(board, opts.root), checkCodecNotBound(board, opts.root)];
  out.push(await checkCodecAnswers(board, opts.hal, out));
  let published = false;
  try {
    published = boardEndpoints(board, opts.runtimeDir ?? opts.root.at('/run/sbc-audio')).length > 0;
  } catch {
    // closed to this user: the service check says so
  }
  out.push(checkAlsaCard(board, opts.root), await checkGpioLines(board, opts.hal, published));
  out.push(checkMemlock(opts), checkRtprio(opts), checkRuntimeDir(opts), await checkService(board, opts), await checkClockSync(board, opts));
  return out;
}

/**
 * `serve`'s start check, before the board is opened: the board's hardware that files show (ALSA
 * card, I2C bus, the codec's address free). The codec's answer and the GPIO lines are checked as
 * the board opens (src/cli/wiring.ts). Returns one line per missing part; empty when all is there.
 */
export function hardwareProblems(board: Board, root: HostRoot): CheckResult[] {
  if (board.hal !== 'linux') return [];
  const out = [checkAlsaCard(board, root), checkI2cBus(board, root), checkCodecNotBound(board, root)].filter((c) => c.status === 'fail');
  const chips = missingGpioChips(board, root);
  if (chips.length) out.push(fail('gpio-lines', `no GPIO chip ${chips.join(', ')} (under /dev)`, 'check the board file\'s gpio chips against gpiodetect'));
  return out;
}

/** Checks whether `/dev/gpiochipN`-style names of the board's chips exist (serve's start check). */
export function missingGpioChips(board: Board, root: HostRoot): string[] {
  const chips = [...new Set(Object.values(board.gpio).map((g) => g.chip))];
  // A chip named by device name or path must exist under /dev; a label is looked up when the board opens.
  return chips.filter((c) => /^(\/dev\/)?gpiochip\d+$/.test(c) && !existsSync(root.at(c.startsWith('/dev/') ? c : `/dev/${c}`)));
}
