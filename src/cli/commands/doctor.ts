import { loadBoard } from '../../board/load.ts';
import type { Hal } from '../../hal/index.ts';
import { type CheckResult, type DoctorHal, runDoctor } from '../../system/doctor.ts';
import { hostRootFrom } from '../../system/host.ts';
import { type Command, EXIT_FAILURE, EXIT_OK, UsageError, boardOption, parseOptions, runtimeDirOption } from '../command.ts';
import { loadConfig } from '../../system/config.ts';

export const doctorCommand: Command = {
  name: 'doctor',
  usage: `usage: sbc-audio doctor [--board NAME] [--json] [--runtime-dir DIR] [--group NAME] [--root DIR]
                      [--chronyc PROGRAM] [--chronyc-socket PATH] [--pmc PROGRAM] [--ptp4l-socket PATH]

Checks, for the board: /dev/i2c-N present (i2c-dev loaded, the bus enabled); the codec's address
not bound by a kernel driver (/sys/bus/i2c/devices/N-00XX/driver); the codec answering as its
description's probe says; the board's ALSA card in /proc/asound/cards; its GPIO lines free;
the memlock limit and real-time priority allowed; the runtime directory's owner and mode; the
service running (the board's streams published and accepting a connection); the system clock
synchronised by chronyd (chronyc -c tracking) or ptp4l (pmc TIME_STATUS_NP), check clock-sync.
Each check passes, fails with the fix, warns with the fix (the clock not synchronised, or no
chronyd / ptp4l answering: the board works, the appliances' clocks disagree), or is skipped where
it does not apply (a codec without a control bus).
Exit status 0 when nothing failed (a warning does not count), 1 otherwise.

  --board NAME        a board name or board file (default: the board of /etc/sbc-audio/config.json)
  --json              machine-readable output: { board, ok, checks: [{ id, status, detail, fix }] },
                      status pass, warn, fail or skip; ok is false only when a check failed
  --runtime-dir DIR   where the service publishes (default: /run/sbc-audio under the root)
  --group NAME        the group that may connect (default: the config's, else audio)
  --root DIR          take /sys, /proc, /dev, /run and /etc under DIR (tests; also
                      $SBC_AUDIO_HOST_ROOT). The codec probe, GPIO lines and clock still use this machine's.
  --chronyc PROGRAM   the chronyc to run (default: chronyc on PATH, else /usr/bin/chronyc)
  --chronyc-socket PATH  chronyd's command socket (its bindcmdaddress; default: chronyc's own)
  --pmc PROGRAM       linuxptp's pmc, asked when chronyd does not answer (default: pmc on PATH)
  --ptp4l-socket PATH ptp4l's uds_address (default: pmc's own, /var/run/ptp4l)`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, json: { type: 'boolean' }, 'runtime-dir': { type: 'string' }, group: { type: 'string' }, root: { type: 'string' },
      chronyc: { type: 'string' }, 'chronyc-socket': { type: 'string' }, pmc: { type: 'string' }, 'ptp4l-socket': { type: 'string' },
    });
    const root = hostRootFrom(values.root);
    const config = loadConfig(root);
    const boardName = (await boardOption(values.board, false)) ?? config?.board;
    if (!boardName) throw new UsageError('--board is required (no board in /etc/sbc-audio/config.json)');
    const board = loadBoard(boardName);
    let hal: Hal | undefined;
    const openHal = async (): Promise<DoctorHal> => {
      if (!hal) {
        const linuxHal = '../../hal/linux/index.ts';
        const { createLinuxHal } = (await import(linuxHal)) as { createLinuxHal: () => Hal };
        hal = createLinuxHal();
      }
      return hal;
    };
    let checks: CheckResult[];
    try {
      checks = await runDoctor(board, {
        root, hal: openHal, runtimeDir: runtimeDirOption(values['runtime-dir']) ?? config?.runtimeDir, group: values.group ?? config?.group,
        clockSync: {
          ...(values.chronyc !== undefined ? { chronyc: values.chronyc } : {}), ...(values['chronyc-socket'] !== undefined ? { chronycSocket: values['chronyc-socket'] } : {}),
          ...(values.pmc !== undefined ? { pmc: values.pmc } : {}), ...(values['ptp4l-socket'] !== undefined ? { ptp4lSocket: values['ptp4l-socket'] } : {}),
        },
      });
    } finally {
      await hal?.close();
    }
    const ok = checks.every((c) => c.status !== 'fail');
    if (values.json) {
      io.out(JSON.stringify({ board: board.name, ok, checks }, null, 2));
    } else {
      io.out(`board ${board.name} (${board.file})`);
      const w = Math.max(...checks.map((c) => c.id.length));
      for (const c of checks) {
        io.out(`  ${c.status.toUpperCase().padEnd(4)}  ${c.id.padEnd(w)}  ${c.detail}`);
        if (c.status === 'fail' || c.status === 'warn') io.out(`        ${' '.repeat(w)}  fix: ${c.fix}`);
      }
      const failed = checks.filter((c) => c.status === 'fail').length;
      const warned = checks.filter((c) => c.status === 'warn').length;
      const warnings = warned ? `${warned} warning${warned === 1 ? '' : 's'}` : '';
      if (failed) io.out(`${failed} check${failed === 1 ? '' : 's'} failed${warnings ? `, ${warnings}` : ''}`);
      else io.out(warnings ? `no check failed, ${warnings}` : 'all checks passed');
    }
    return ok ? EXIT_OK : EXIT_FAILURE;
  },
};
