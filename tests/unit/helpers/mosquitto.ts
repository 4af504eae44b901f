/**
 * A real MQTT broker and real peers for the tests that speak to one: Debian's mosquitto, started on
 * a free loopback port with a config of our own (no persistence, anonymous: the test's broker
 * only), and mosquitto_sub / mosquitto_pub as the other clients.
 *
 * mosquitto_sub prints each message as one JSON line (`-F %j`: topic, qos, retain 0/1, payload as a
 * quoted string; mosquitto_sub(1), "Output format"), so payloads with spaces or JSON survive intact.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';

export const MOSQUITTO = '/usr/sbin/mosquitto';
export const MOSQUITTO_PUB = '/usr/bin/mosquitto_pub';
export const MOSQUITTO_SUB = '/usr/bin/mosquitto_sub';
const run = promisify(execFile);

/** The three programs are there (Debian: apt-get install mosquitto mosquitto-clients). */
export function haveMosquitto(): boolean {
  return existsSync(MOSQUITTO) && existsSync(MOSQUITTO_PUB) && existsSync(MOSQUITTO_SUB);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `probe` until it gives a value; throws naming `what` after the hang guard. */
export async function waitFor<T>(what: string, probe: () => T | undefined | false, guardMs = 30_000): Promise<T> {
  const deadline = Date.now() + guardMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${guardMs} ms (a hang guard)`);
    await sleep(20);
  }
}

/** The exit code of a child that is to exit by itself; throws naming `what` after the hang guard (the timer cleared either way). */
export async function exitCode(what: string, exited: Promise<number | null>, guardMs = 30_000): Promise<number | null> {
  let t: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([exited, new Promise<never>((_, reject) => { t = setTimeout(() => reject(new Error(`${what}: still running after ${guardMs} ms (a hang guard)`)), guardMs); })]);
  } finally {
    clearTimeout(t);
  }
}

/** Kills `child` with SIGTERM, then SIGKILL after `guardMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess | undefined, guardMs = 5000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), guardMs);
  await exited;
  clearTimeout(t);
}

export interface Broker {
  port: number;
  /** mqtt://127.0.0.1:PORT */
  url: string;
  /** What mosquitto wrote (its log goes to stderr by default). */
  log(): string;
  stop(): Promise<void>;
}

/**
 * Starts mosquitto on a free loopback port (config in `dir`) and resolves once it accepts a TCP
 * connection; rejects with its log when it exits first or does not listen within `guardMs`.
 */
export async function startBroker(dir: string, guardMs = 30_000): Promise<Broker> {
  const port = await freePort();
  const conf = path.join(dir, 'mosquitto.conf');
  writeFileSync(conf, `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\n`);
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (d: Buffer) => { log += d.toString(); });
  let listening = false;
  const probe = setInterval(() => {
    const sock = net.connect(port, '127.0.0.1');
    sock.once('connect', () => { listening = true; sock.destroy(); });
    sock.once('error', () => sock.destroy());
  }, 50);
  try {
    await waitFor(`mosquitto listening on 127.0.0.1:${port}`, () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited ${child.exitCode}: ${log}`);
      return listening;
    }, guardMs);
  } catch (e) {
    await stopChild(child);
    throw e;
  } finally {
    clearInterval(probe);
  }
  return { port, url: `mqtt://127.0.0.1:${port}`, log: () => log, stop: () => stopChild(child) };
}

export interface Message { topic: string; payload: string; retain: boolean }

export interface Subscriber {
  /** Every message received so far, in order. */
  readonly messages: Message[];
  /** The newest message on `topic`. */
  last(topic: string): Message | undefined;
  /** What mosquitto_sub wrote to stderr. */
  err(): string;
  readonly child: ChildProcess;
  /** Resolves with the exit code (27: its -W timeout ran out, mosquitto_sub(1)). */
  readonly exited: Promise<number | null>;
  stop(): Promise<void>;
}

/** Starts `mosquitto_sub -t TOPIC… -F %j ARGS` against the broker; its messages collect as they come. */
export function subscribe(port: number, topics: string[], args: string[] = []): Subscriber {
  const child = spawn(MOSQUITTO_SUB, ['-h', '127.0.0.1', '-p', String(port), '-q', '1', ...topics.flatMap((t) => ['-t', t]), '-F', '%j', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const messages: Message[] = [];
  let partial = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => {
    partial += d.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      if (!line) continue;
      const j = JSON.parse(line) as { topic: string; retain: number; payload: string };
      messages.push({ topic: j.topic, payload: j.payload, retain: j.retain === 1 });
    }
  });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
  });
  return {
    messages,
    last: (topic) => [...messages].reverse().find((m) => m.topic === topic),
    err: () => err,
    child,
    exited,
    stop: () => stopChild(child),
  };
}

/** `mosquitto_pub -t TOPIC -m PAYLOAD` (not retained: a command), to its end. */
export async function publish(port: number, topic: string, payload: string): Promise<void> {
  await run(MOSQUITTO_PUB, ['-h', '127.0.0.1', '-p', String(port), '-q', '1', '-t', topic, '-m', payload], { timeout: 30_000 });
}
