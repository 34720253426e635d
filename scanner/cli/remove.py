"""`scanner remove`: scan, show the plan, ask once, remove, rescan, and report before and after.

The plan and its execution are scanner.removal; this module wires them to the terminal. The plan, the
question and each action go to stderr; stdout carries the report of the after-state (the scan's, with
--dry-run or when nothing was removed) in --format, and the JSON report adds a top-level "removals" list.
"""

from __future__ import annotations

import io
import json
import sys

import click

from scanner.cli.options import (
    EXIT_CODES_HELP,
    check_adb_server,
    chosen_platforms,
    device_options,
    make_matcher,
    report_options,
)
from scanner.cli.output import CommandError, check_outputs, parse_outputs, write_file, write_stdout
from scanner.cli.terminal import Terminal, pass_terminal

__all__ = ["remove"]

RECORD_HELP = ("Append one JSON line per action to PATH (created readable by its owner only) "
               "[default: $XDG_STATE_HOME/scanner/removals.jsonl, i.e. ~/.local/state/scanner/removals.jsonl].")


@click.command(epilog=EXIT_CODES_HELP)
@device_options
@report_options
@click.option("--yes", "-y", is_flag=True, help="Remove without asking (needed when stdin is not a terminal).")
@click.option("--dry-run", is_flag=True, help="Print the plan and exit with the scan's code; remove nothing.")
@click.option("--include-review", is_flag=True,
              help="Also remove apps found by developer team id or recovered from an unreadable line (never "
                   "those known only by name).")
@click.option("--system-apps", is_flag=True,
              help="Android: remove an app that came with the phone for each user it was found in (pm uninstall "
                   "--user N; it stays in the system image and `cmd package install-existing` restores it).")
@click.option("--record", "record_path", metavar="PATH", help=RECORD_HELP)
@pass_terminal
def remove(terminal: Terminal, platform: str | None, serials: tuple[str, ...], udids: tuple[str, ...],
           adb_server: str | None, timeout: float, signature_paths: tuple[str, ...], policies: tuple[str, ...],
           fmt: str, outputs: tuple[str, ...], inventory: bool, fail_on: str, quiet: bool, yes: bool,
           dry_run: bool, include_review: bool, system_apps: bool, record_path: str | None) -> int:
    """Remove the prohibited apps a scan finds on the attached devices.

    Scans like `scan`, prints the plan (each app, device and Android user, with
    the finding it rests on), asks once, removes, rescans every device it
    touched and reports the after-state. Only findings at or above --fail-on
    that rest on the app's id are removed; the others are listed as "check by
    hand". Android: pm uninstall --user N, never keeping data. The exit code is
    the after-state's: 0 only when every rescan is complete and clean.
    """
    from scanner import live, removal

    terminal.quiet = quiet
    check_adb_server(adb_server)
    select = {"android": serials, "ios": udids}
    platforms = chosen_platforms(platform, select)
    out_specs = parse_outputs(outputs)
    check_outputs(out_specs, ())
    matcher = make_matcher(signature_paths, policies)

    transports: list = []

    def scan(chosen, picked, *, keep_apps: bool, may_start: bool):
        with terminal.progress() as progress:
            opened = live.open_transports(chosen, select=picked, addresses={"android": adb_server}, timeout=timeout,
                                          notify=terminal.notify, progress=progress, may_start=may_start)
            transports.extend(opened)
            return live.scan(opened, matcher, inventory=keep_apps, fail_on=fail_on)

    def rescan(devices):
        """The devices removals were sent to, read again (their app lists kept: removal.verify needs them)."""
        chosen = {d.platform: True for d in devices if d.platform}
        picked = {p: [d.transport or d.serial for d in devices if d.platform == p and (d.transport or d.serial)]
                  for p in chosen}
        return scan(chosen, picked, keep_apps=True, may_start=False)

    before = scan(platforms, select, keep_apps=inventory, may_start=True)
    if not before.results:
        terminal.notify("no device found: connect a device by USB, then run again; `scanner devices` shows what "
                        "is attached")
    the_plan = removal.plan(before, include_review=include_review, system_apps=system_apps)
    asking = bool(the_plan.removals) and not yes and not dry_run and sys.stdin is not None and sys.stdin.isatty()
    if dry_run or asking or not quiet:
        show_plan(the_plan)

    def unchanged(outcome: str, why: str | None = None) -> int:
        """Nothing removed: the scan's report, each step with what became of it."""
        return deliver(before, [removal.Action(s, outcome, why or s.why) if s.remove else
                                removal.Action(s, removal.SKIPPED, s.why) for s in the_plan.steps], fmt, out_specs)

    if not the_plan.removals or dry_run:
        if not the_plan.removals and the_plan.steps:
            terminal.notify("nothing to remove automatically: see the plan above")
        return unchanged("planned")
    question = f"Remove {len(the_plan.removals)} app(s) from {len(the_plan.devices)} device(s)?"
    if not yes and not asking:
        say(f"{question} Not asked: stdin is not a terminal, so nothing was removed (give --yes to remove without "
            f"asking)")
        return unchanged(removal.NOT_ATTEMPTED, "not confirmed (stdin is not a terminal and --yes was not given)")
    if asking and not click.confirm(question, default=False, err=True):
        say("nothing was removed")
        return unchanged(removal.NOT_ATTEMPTED, "declined")
    path = record_path or str(removal.default_record_path())
    try:
        record = removal.Record(path, policies=[p.id for p in before.policies])
    except removal.RecordError as err:
        raise CommandError(f"{err}; nothing was removed (--record PATH writes it elsewhere)") from None
    by_platform = {getattr(t, "platform", None): t for t in transports}
    try:
        after, actions = removal.carry_out(the_plan, before, by_platform.get, record, rescan, timeout=timeout,
                                           on_action=lambda a: terminal.notify(action_line(a)), inventory=inventory)
    except BaseException:
        say(f"stopped: the removals so far are in {path}")
        record.close()
        raise
    record.close()
    for line in before_and_after(before, after, actions):
        terminal.notify(line)
    terminal.notify(f"record: {path}")
    code = deliver(after, actions, fmt, out_specs)
    if record.failures:
        from scanner.model import EXIT_USAGE

        say(f"the removal record could not be written ({record.failures[0]}): removals stopped there; the report "
            f"above lists every action")
        return EXIT_USAGE  # as watch's --output jsonl: an evidence file left incomplete
    return code


# --- what the person reads ------------------------------------------------------------------------------------


def say(line: str) -> None:
    from scanner.terminal.text import safe

    click.echo(f"scanner: {safe(line, limit=2000)}", err=True)


def show_plan(the_plan) -> None:
    from scanner.terminal.text import safe

    if not the_plan.steps:
        say("the scan found nothing to remove")
        return
    kept = len(the_plan.steps) - len(the_plan.removals)
    lines = [f"plan: {len(the_plan.removals)} removal(s), {kept} not removed"]
    device = None
    for s in the_plan.steps:
        if s.device != device:
            device = s.device
            lines.append(f"  {safe(device.platform)} {safe(device.label, limit=80)}"
                         + (f" ({safe(device.model, limit=60)})" if device.model else ""))
        f = s.finding
        lines.append(f"    {'remove' if s.remove else 'skip  '}  {safe(s.app.id, limit=120)}"
                     f"{f' (user {s.user})' if s.user is not None else ''}: {safe(f.listed, limit=80)}, "
                     f"{f.severity}, {safe(', '.join(s.rules), limit=200)} - {safe(s.why, limit=300)}")
    click.echo("\n".join(lines), err=True)


def action_line(action) -> str:
    from scanner.terminal.text import safe

    s = action.step
    answer = f" [{safe(action.answer, limit=120)}]" if action.answer else ""
    return (f"{safe(s.device.label, limit=80)}: {safe(s.app.id, limit=120)}"
            f"{f' (user {s.user})' if s.user is not None else ''}: {action.outcome}{answer}: "
            f"{safe(action.message, limit=400)}")


def before_and_after(before, after, actions) -> list[str]:
    from scanner.model import device_verdict
    from scanner.terminal.text import safe

    old = {r.device.key: r for r in before.results}
    lines = []
    for r in after.results:
        b = old.get(r.device.key)
        if b is None or b is r:
            continue
        lines.append(f"{safe(r.device.label, limit=80)}: before {device_verdict(b, before.fail_on)} "
                     f"({len(b.findings)} finding(s)), after {device_verdict(r, after.fail_on)} ({len(r.findings)} "
                     f"finding(s))")
    failed = [a for a in actions if a.failed]
    if failed:
        lines.append(f"{len(failed)} planned removal(s) did not succeed: see above")
    lines.append(f"after: {after.verdict}, exit {after.exit_code}")
    return lines


# --- the report -----------------------------------------------------------------------------------------------


def report_json(report, actions) -> str:
    """The scan's JSON report of `report` with a top-level "removals" list (only this command adds it)."""
    from scanner.formats import FormatOptions, load_format
    from scanner.removal import action_to_dict

    buffer = io.StringIO()
    load_format("json").write(report, buffer, FormatOptions())
    doc = json.loads(buffer.getvalue())
    doc["removals"] = [action_to_dict(a) for a in actions]
    return json.dumps(doc, ensure_ascii=True, indent=2) + "\n"


def deliver(report, actions, fmt: str, outputs) -> int:
    """The report files and stdout, the JSON ones with the removals; the report's exit code."""
    from scanner.formats import FormatOptions, load_format

    def writer(name: str):
        if name == "json":
            text = report_json(report, actions)
            return lambda out: out.write(text)
        return lambda out: load_format(name).write(report, out, FormatOptions())

    for out_fmt, path in outputs:
        try:
            write_file(writer(out_fmt), path)
        except OSError as err:
            raise CommandError(f"--output {out_fmt}={path}: could not write the report: {err.strerror or err}") \
                from None
    write_stdout(writer(fmt))
    return report.exit_code
