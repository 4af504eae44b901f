/**
 * The system clock's sync state, as the daemon that disciplines it reports it: chronyd (through
 * `chronyc`) or ptp4l (through `pmc`). Both are peer programs sbc-audio did not write; they are
 * found on PATH or named explicitly (tests run Debian's binaries unpacked by
 * scripts/timesync-tools.sh, with their own control sockets).
 *
 * Issue 28: each appliance's system clock is disciplined by chrony (or linuxptp); `doctor` reports
 * the state (src/system/doctor.ts, check `clock-sync`). Snapcast keeps its own time with its server:
 * this is the clock logs and measurements use.
 *
 * Sources (facts only, in our words):
 * - chronyc(1), `tracking` and option `-c`: the CSV report has, in order, the reference ID (hex),
 *   the reference's name or address, stratum, reference time (seconds since the epoch), system time
 *   offset (seconds; the text report calls a positive value "slow of NTP time"), last offset, RMS
 *   offset, frequency (ppm), residual frequency, skew, root delay, root dispersion, update interval
 *   and leap status (Normal, Insert second, Delete second or Not synchronised). The leap status
 *   says chronyd has a source, not that the clock is on time: chronyd corrects a large error by
 *   slewing it away slowly unless `makestep` allows a step (Debian's chrony.conf has `makestep 1 3`:
 *   only in the first three updates), so the system time offset is looked at as well. A reference ID of
 *   7F7F0101 with no name means the local reference mode (`local` directive). `-n`: no DNS lookups;
 *   `-h`: the daemon's address, or the path of its Unix socket (`bindcmdaddress`).
 *   chronyc exits 1 with "506 Cannot talk to daemon" or "Could not open connection to daemon" when
 *   no chronyd answers (seen with chrony 4.3).
 * - pmc(8): `-u` the Unix socket transport, `-b 0` boundary hops 0 (only the local ptp4l answers),
 *   `-s` ptp4l's socket (default /var/run/ptp4l). TIME_STATUS_NP is linuxptp's own management ID
 *   (master_offset in ns, gmPresent, gmIdentity); PORT_DATA_SET's portState says MASTER for a
 *   grandmaster. pmc prints no RESPONSE block when no ptp4l answers (and still exits 0).
 * - The kernel's own view (adjtimex's STA_UNSYNC) has no file under /proc or /sys and timedatectl
 *   needs systemd, so with neither daemon answering the state stays unknown.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import path from 'node:path';

export type ClockSyncSource = 'chrony' | 'ptp4l' | 'none';

export interface ClockSyncState {
  /** The daemon that answered ('none': neither chronyd nor ptp4l answered). */
  source: ClockSyncSource;
  /** undefined: unknown (no daemon answered). */
  synchronised: boolean | undefined;
  /** How far the system clock is ahead of the reference, in ns (negative: behind). */
  offsetNs?: number;
  stratum?: number;
  /** The reference: an address or name, 'local' for chrony's local reference, a PTP grandmaster's identity. */
  reference?: string;
  /** chrony's leap status ('Normal', 'Not synchronised', ...). */
  leap?: string;
  /** One line: what was found. */
  detail: string;
}

/** One `chronyc -c tracking` line (chronyc(1), `tracking`). Times in seconds, frequencies in ppm. */
export interface ChronyTracking {
  referenceId: string;
  /** Name or address of the reference; '' for none (local reference, or not synchronised). */
  referenceName: string;
  stratum: number;
  refTimeS: number;
  /** chrony's sign: positive = the system clock is slow of NTP time. */
  systemTimeS: number;
  lastOffsetS: number;
  rmsOffsetS: number;
  frequencyPpm: number;
  residualFreqPpm: number;
  skewPpm: number;
  rootDelayS: number;
  rootDispersionS: number;
  updateIntervalS: number;
  leap: string;
}

/** chronyc(1): the reference ID of the local reference mode. */
export const CHRONY_LOCAL_REFID = '7F7F0101';
const LEAP_STATUSES = ['Normal', 'Insert second', 'Delete second', 'Not synchronised'];

/** Parses the first line of `chronyc -c tracking`; throws naming the field that is wrong. */
export function parseChronyTracking(csv: string): ChronyTracking {
  const line = csv.split('\n').find((l) => l.trim() !== '') ?? '';
  const f = line.trim().split(',');
  if (f.length !== 14) throw new Error(`chronyc -c tracking: expected 14 comma-separated fields, got ${f.length}: ${JSON.stringify(line.slice(0, 200))}`);
  const names = ['reference ID', 'name', 'stratum', 'ref time', 'system time', 'last offset', 'RMS offset', 'frequency', 'residual freq', 'skew', 'root delay', 'root dispersion', 'update interval', 'leap status'];
  const num = (i: number): number => {
    const v = Number(f[i]);
    if (f[i] === '' || !Number.isFinite(v)) throw new Error(`chronyc -c tracking: field ${i + 1} (${names[i]}) is not a number: ${JSON.stringify(f[i])}`);
    return v;
  };
  if (!/^[0-9A-Fa-f]{8}$/.test(f[0]!)) throw new Error(`chronyc -c tracking: field 1 (reference ID) is not 8 hex digits: ${JSON.stringify(f[0])}`);
  const leap = f[13]!;
  if (!LEAP_STATUSES.includes(leap)) throw new Error(`chronyc -c tracking: field 14 (leap status) is not one of ${LEAP_STATUSES.join(', ')}: ${JSON.stringify(leap)}`);
  return {
    referenceId: f[0]!.toUpperCase(), referenceName: f[1]!, stratum: num(2), refTimeS: num(3), systemTimeS: num(4), lastOffsetS: num(5),
    rmsOffsetS: num(6), frequencyPpm: num(7), residualFreqPpm: num(8), skewPpm: num(9), rootDelayS: num(10), rootDispersionS: num(11),
    updateIntervalS: num(12), leap,
  };
}

const us = (ns: number) => `${(ns / 1000).toFixed(1)} µs`;
/** A large offset in the unit that reads best: "2.345 s", "12.3 ms". */
const seconds = (ns: number) => (ns >= 1e9 ? `${(ns / 1e9).toFixed(3)} s` : `${(ns / 1e6).toFixed(1)} ms`);

/**
 * The state a chronyd tracking report gives. A source alone is not enough: the system clock must be
 * within `maxOffsetNs` of it (default 1 ms, the bound ptp4lState uses), else it is still being slewed.
 */
export function chronyState(t: ChronyTracking, maxOffsetNs = 1_000_000): ClockSyncState {
  const base = { source: 'chrony' as const, stratum: t.stratum, leap: t.leap };
  // chronyd reports leap status "Not synchronised" (and reference ID 0, stratum 0) until it has a source.
  if (t.leap === 'Not synchronised' || t.referenceId === '00000000') {
    return { ...base, synchronised: false, detail: `chronyd is not synchronised (leap status ${t.leap}, reference ID ${t.referenceId})` };
  }
  const offsetNs = Math.round(-t.systemTimeS * 1e9);
  const local = t.referenceId === CHRONY_LOCAL_REFID && t.referenceName === '';
  const reference = local ? 'local' : (t.referenceName || t.referenceId);
  const what = local
    ? `chronyd serves its own clock (local reference, stratum ${t.stratum}): no upstream source`
    : `chronyd synchronised to ${reference}, stratum ${t.stratum}, offset ${us(offsetNs)}`;
  if (Math.abs(offsetNs) > maxOffsetNs) {
    const off = `the system clock is ${seconds(Math.abs(offsetNs))} ${offsetNs > 0 ? 'ahead of' : 'behind'} ${local ? 'its reference' : reference} (more than ${us(maxOffsetNs)})`;
    return {
      ...base, synchronised: false, offsetNs, reference,
      detail: `chronyd has a source (${reference}, stratum ${t.stratum}, leap status ${t.leap}) but ${off}: it is being slewed, or chronyd may not step it (makestep)`,
    };
  }
  return { ...base, synchronised: true, offsetNs, reference, detail: `${what}, leap status ${t.leap}` };
}

export interface PmcTimeStatus {
  masterOffsetNs: number;
  gmPresent: boolean;
  gmIdentity?: string;
}

/** The TIME_STATUS_NP block of pmc's output; undefined when there is none (no ptp4l answered). */
export function parsePmcTimeStatus(text: string): PmcTimeStatus | undefined {
  const block = responseBlock(text, 'TIME_STATUS_NP');
  if (block === undefined) return undefined;
  const offset = /^\s*master_offset\s+(-?\d+)\s*$/m.exec(block);
  const gm = /^\s*gmPresent\s+(true|false)\s*$/m.exec(block);
  if (!offset || !gm) throw new Error(`pmc TIME_STATUS_NP: no ${offset ? 'gmPresent' : 'master_offset'} line in ${JSON.stringify(block.slice(0, 300))}`);
  const id = /^\s*gmIdentity\s+(\S+)\s*$/m.exec(block);
  return { masterOffsetNs: Number(offset[1]), gmPresent: gm[1] === 'true', ...(id ? { gmIdentity: id[1]! } : {}) };
}

/** The portState of pmc's PORT_DATA_SET block (e.g. MASTER, SLAVE, LISTENING). */
export function parsePmcPortState(text: string): string | undefined {
  const block = responseBlock(text, 'PORT_DATA_SET');
  return block === undefined ? undefined : /^\s*portState\s+(\S+)\s*$/m.exec(block)?.[1];
}

/** The lines after "... RESPONSE MANAGEMENT ID" up to the next RESPONSE header or the end. */
function responseBlock(text: string, id: string): string | undefined {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => new RegExp(`\\bRESPONSE MANAGEMENT ${id}\\b`).test(l));
  if (at < 0) return undefined;
  const end = lines.findIndex((l, i) => i > at && /\bRESPONSE MANAGEMENT\b/.test(l));
  return lines.slice(at + 1, end < 0 ? undefined : end).join('\n');
}

/**
 * The state ptp4l's answers give. A grandmaster (port MASTER, no other grandmaster present) is the
 * reference itself; a port with a grandmaster present is synchronised when its offset is within
 * `maxOffsetNs`; anything else (listening, no grandmaster) is not synchronised.
 */
export function ptp4lState(status: PmcTimeStatus, portState: string | undefined, maxOffsetNs = 1_000_000): ClockSyncState {
  const port = portState ? `port ${portState}` : 'port state unknown';
  if (status.gmPresent) {
    const ok = Math.abs(status.masterOffsetNs) <= maxOffsetNs;
    return {
      source: 'ptp4l', synchronised: ok, offsetNs: status.masterOffsetNs, ...(status.gmIdentity ? { reference: status.gmIdentity } : {}),
      detail: `ptp4l ${ok ? 'synchronised' : 'not synchronised'} to grandmaster ${status.gmIdentity ?? '?'}, master offset ${us(status.masterOffsetNs)}${ok ? '' : ` (more than ${us(maxOffsetNs)})`}, ${port}`,
    };
  }
  if (portState === 'MASTER' || portState === 'GRAND_MASTER') {
    return { source: 'ptp4l', synchronised: true, reference: 'local', detail: `ptp4l is the grandmaster (${port}): the reference for its slaves` };
  }
  return { source: 'ptp4l', synchronised: false, detail: `ptp4l has no grandmaster (${port})` };
}

export interface ClockSyncOptions {
  /** chronyc to run (default: `chronyc` on PATH, else /usr/bin/chronyc); false: do not ask chronyd. */
  chronyc?: string | false;
  /** chronyd's command socket (`bindcmdaddress`), passed as `-h` (default: chronyc's own default). */
  chronycSocket?: string;
  /** pmc to run (default: `pmc` on PATH, else /usr/sbin/pmc); false: do not ask ptp4l. */
  pmc?: string | false;
  /** ptp4l's socket (`uds_address`), passed as `-s` (default: pmc's own, /var/run/ptp4l). */
  ptp4lSocket?: string;
  /** How long one program may take (default 10 s: chronyc's own retries end sooner). */
  timeoutMs?: number;
}

/** A program by path, or by name on PATH, else in the given fallback directories. */
export function findProgram(name: string, fallbackDirs: string[] = ['/usr/bin', '/usr/sbin']): string | undefined {
  if (name.includes('/')) return isExecutable(name) ? name : undefined;
  for (const dir of [...(process.env.PATH ?? '').split(':').filter(Boolean), ...fallbackDirs]) {
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

interface Ran { code: number | null; stdout: string; stderr: string; error?: string }

function run(program: string, args: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs, env: { ...process.env, LC_ALL: 'C' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.once('error', (e) => resolve({ code: null, stdout, stderr, error: e.message }));
    child.once('close', (code, signal) => resolve({ code, stdout, stderr, ...(signal ? { error: `ended by ${signal} (timeout ${timeoutMs} ms?)` } : {}) }));
  });
}

const firstLine = (s: string) => s.split('\n').map((l) => l.trim()).find(Boolean) ?? '';

/** What chronyd says (undefined: no chronyc), or why it did not answer. */
async function askChrony(opts: ClockSyncOptions): Promise<ClockSyncState | string | undefined> {
  if (opts.chronyc === false) return undefined;
  const chronyc = findProgram(opts.chronyc ?? 'chronyc');
  if (!chronyc) return opts.chronyc ? `${opts.chronyc}: not an executable program` : undefined;
  const args = ['-n', '-c', ...(opts.chronycSocket ? ['-h', opts.chronycSocket] : []), 'tracking'];
  const r = await run(chronyc, args, opts.timeoutMs ?? 10_000);
  if (r.code !== 0) return `chronyc: ${r.error ?? (firstLine(r.stderr) || firstLine(r.stdout) || `exit status ${r.code}`)}`;
  try {
    return chronyState(parseChronyTracking(r.stdout));
  } catch (e) {
    return (e as Error).message;
  }
}

/** What ptp4l says (undefined: no pmc), or why it did not answer. */
async function askPtp4l(opts: ClockSyncOptions): Promise<ClockSyncState | string | undefined> {
  if (opts.pmc === false) return undefined;
  const pmc = findProgram(opts.pmc ?? 'pmc');
  if (!pmc) return opts.pmc ? `${opts.pmc}: not an executable program` : undefined;
  const args = ['-u', '-b', '0', ...(opts.ptp4lSocket ? ['-s', opts.ptp4lSocket] : []), 'GET TIME_STATUS_NP', 'GET PORT_DATA_SET'];
  const r = await run(pmc, args, opts.timeoutMs ?? 10_000);
  if (r.code !== 0) return `pmc: ${r.error ?? (firstLine(r.stderr) || `exit status ${r.code}`)}`;
  try {
    const status = parsePmcTimeStatus(r.stdout);
    if (!status) return `pmc: no ptp4l answered on ${opts.ptp4lSocket ?? '/var/run/ptp4l'}`;
    return ptp4lState(status, parsePmcPortState(r.stdout));
  } catch (e) {
    return (e as Error).message;
  }
}

/**
 * Asks chronyd, then ptp4l; the first that answers gives the state. With neither answering the
 * state is unknown (source 'none') and the detail says what each program said.
 */
export async function readClockSync(opts: ClockSyncOptions = {}): Promise<ClockSyncState> {
  const chrony = await askChrony(opts);
  if (typeof chrony === 'object') return chrony;
  const ptp = await askPtp4l(opts);
  if (typeof ptp === 'object') return ptp;
  const why = [chrony ?? 'no chronyc program (Debian package chrony)', ptp ?? 'no pmc program (Debian package linuxptp)'];
  return { source: 'none', synchronised: undefined, detail: `neither chronyd nor ptp4l answers: ${why.join('; ')}` };
}
