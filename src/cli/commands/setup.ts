import { loadBoard } from '../../board/load.ts';
import { hostRootFrom } from '../../system/host.ts';
import { applyRemove, applySetup, changeDiff, isTimeServerName, planRemove, planSetup, removeActionText } from '../../system/setup.ts';
import { type Command, EXIT_OK, UsageError, boardOption, parseOptions } from '../command.ts';

export const setupCommand: Command = {
  name: 'setup',
  usage: `usage: sbc-audio setup --board NAME [--root DIR] [--group NAME] [--no-alsa-in] [--time-server | --time-from HOST]
                     [--dry-run | --apply] [--json]
       sbc-audio setup --remove [--root DIR] [--dry-run | --apply] [--json]

What the Pi needs to run the board with sbc-audio (docs/deploy-raspberry-pi.md):
  - the board's overlay (alsa/overlays/NAME.dts) compiled with dtc -@ into the firmware's overlays/
    (/boot/firmware/overlays, or /boot/overlays before Bookworm); none for the firmware's own;
  - config.txt: dtparam=i2c_arm=on, dtparam=i2s=on, dtoverlay=NAME, the HAT's own dtoverlay
    line commented out;
  - i2c-dev in /etc/modules;
  - the systemd unit /etc/systemd/system/sbc-audio.service (enabled) and
    /etc/sbc-audio/config.json naming the board and the group;
  - the group that may connect;
  - the ALSA way in, for players (aplay, mpd, snapclient, squeezelite) that open the ALSA name
    sbc-audio: /etc/alsa/conf.d/50-sbc-audio.conf (alsa/50-sbc-audio.conf),
    /etc/modules-load.d/sbc-audio.conf (snd-aloop at boot) and /etc/modprobe.d/sbc-audio.conf
    (the loopback card as Loopback, 8 players, never card 0). --no-alsa-in leaves these out;
  - with --time-server or --time-from HOST: chrony's drop-in /etc/chrony/conf.d/sbc-audio.conf, so
    that the appliances of a group share one clock (deploy/chrony/; sudo apt-get install chrony).
--dry-run (the default) prints the changes as a diff and changes nothing. --apply makes them,
keeping a backup of each file it changes (FILE.sbc-audio.bak) and a record of what it wrote
(/etc/sbc-audio/setup-record.json); run again, it changes nothing.
After --apply on a Pi: sudo systemctl daemon-reload, then reboot.

--remove takes away what setup --apply wrote, as the record names it: the unit and its link, the
config file, the overlay, the ALSA, module and chrony files are deleted; config.txt and /etc/modules get
their backups back; the directories setup made go when empty. A file changed since setup wrote it
(its SHA-256 is not the recorded one) is kept, with a note; in config.txt or /etc/modules changed
since, only setup's own lines are taken out. Nothing else is touched. --dry-run shows it first.

  --board NAME   a board name or board file (a real board that names its overlay)
  --root DIR     the tree to change (default /; also $SBC_AUDIO_HOST_ROOT)
  --group NAME   the group whose members may connect (default audio)
  --no-alsa-in   without the ALSA way in (no snd-aloop, no sbc-audio ALSA name)
  --time-server  this appliance serves time to the others (deploy/chrony/time-server.conf: local
                 stratum 10 when no upstream source answers, NTP allowed from private addresses)
  --time-from HOST  this appliance takes its time from HOST, the group's time server
                 (deploy/chrony/time-client.conf: polling every 1-16 s, stepping over 1 s)
  --remove       take away what setup --apply wrote (no --board)
  --dry-run      print the diff only (default)
  --apply        make the changes (as root on a Pi)
  --json         machine-readable: { board, root, applied, changes: [{ path, kind, why, new }], backups, notes };
                 with --remove: { root, applied, recorded, actions: [{ path, action, kind, why }], notes }`,
  async run(argv, io) {
    const { values } = parseOptions(argv, {
      board: { type: 'string' }, root: { type: 'string' }, group: { type: 'string' }, 'no-alsa-in': { type: 'boolean' }, remove: { type: 'boolean' },
      'time-server': { type: 'boolean' }, 'time-from': { type: 'string' },
      'dry-run': { type: 'boolean' }, apply: { type: 'boolean' }, json: { type: 'boolean' },
    });
    if (values.apply && values['dry-run']) throw new UsageError('--dry-run and --apply exclude each other');
    if (values.remove) {
      for (const o of ['board', 'group', 'no-alsa-in', 'time-server', 'time-from'] as const) if (values[o] !== undefined) throw new UsageError(`--remove takes no --${o}: it removes what the record names`);
      return remove(hostRootFrom(values.root), Boolean(values.apply), Boolean(values.json), io);
    }
    const boardName = (await boardOption(values.board))!;
    if (values.group !== undefined && !/^[a-z_][a-z0-9_-]*$/.test(values.group)) throw new UsageError(`--group: "${values.group}" is not a group name`);
    if (values['time-server'] && values['time-from'] !== undefined) throw new UsageError('--time-server and --time-from exclude each other: an appliance serves the time or takes it');
    if (values['time-from'] !== undefined && !isTimeServerName(values['time-from'])) throw new UsageError(`--time-from: "${values['time-from']}" is not a host name or an IP address`);
    const root = hostRootFrom(values.root);
    const board = loadBoard(boardName);
    const plan = planSetup(board, {
      root, ...(values.group ? { group: values.group } : {}), alsaIn: !values['no-alsa-in'],
      ...(values['time-server'] ? { timeServer: true } : {}), ...(values['time-from'] !== undefined ? { timeFrom: values['time-from'] } : {}),
    });
    const backups = values.apply ? applySetup(plan, root) : [];
    if (values.json) {
      io.out(JSON.stringify({
        board: plan.board, root: root.root, applied: Boolean(values.apply),
        changes: plan.changes.map((c) => ({ path: c.path, kind: c.kind, why: c.why, new: c.before === undefined })),
        backups, notes: plan.notes,
      }, null, 2));
      return EXIT_OK;
    }
    if (plan.changes.length === 0) io.out(`nothing to change under ${root.root} for board ${board.name}`);
    else if (!values.apply) {
      for (const c of plan.changes) io.out(changeDiff(c));
      io.out(`\n${plan.changes.length} change${plan.changes.length === 1 ? '' : 's'} under ${root.root} (dry run: nothing changed; --apply makes them)`);
    } else {
      for (const c of plan.changes) io.out(`${c.before === undefined ? 'created' : 'changed'} ${root.at(c.path)}: ${c.why}`);
      for (const b of backups) io.out(`backup ${b}`);
      if (root.root === '/') io.out('now: sudo systemctl daemon-reload, then reboot (the overlay and config.txt take effect at boot)');
    }
    for (const n of plan.notes) io.out(`note: ${n}`);
    return EXIT_OK;
  },
};

function remove(root: ReturnType<typeof hostRootFrom>, apply: boolean, json: boolean, io: { out(t: string): void }): number {
  const plan = planRemove(root);
  if (apply) applyRemove(plan, root);
  if (json) {
    io.out(JSON.stringify({
      root: root.root, applied: apply, recorded: plan.recorded,
      actions: plan.actions.map((a) => ({ path: a.path, action: a.action, kind: a.kind, why: a.why })), notes: plan.notes,
    }, null, 2));
    return EXIT_OK;
  }
  if (!apply) {
    for (const a of plan.actions) io.out(removeActionText(a));
    if (plan.recorded) io.out(`\n${plan.actions.length} step${plan.actions.length === 1 ? '' : 's'} under ${root.root} (dry run: nothing changed; --remove --apply makes them)`);
  } else {
    for (const a of plan.actions) io.out(`${{ delete: 'deleted', restore: 'restored', edit: 'edited', rmdir: 'removed directory' }[a.action]} ${root.at(a.path)}: ${a.why}`);
  }
  for (const n of plan.notes) io.out(`note: ${n}`);
  return EXIT_OK;
}
