"""`scanner signatures list|show|validate`: the loaded catalogs and policies, for people to read and check.

Kept fast (an admin runs `signatures list` to see what a scan checks): no
device library and no tabulate is imported.
"""

from __future__ import annotations

import click

from scanner.cli.options import CONFIG_OPTION, chosen_config, loaded_signatures
from scanner.cli.output import CommandError, write_stdout

__all__ = ["signatures"]

_SIGNATURES_OPTION = click.option("--signatures", "signature_paths", multiple=True, metavar="PATH",
                                  help="Also load your own catalog and policy files.")


@click.group()
def signatures() -> None:
    """List, show and validate signature catalogs and policies."""


@signatures.command("list")
@_SIGNATURES_OPTION
@CONFIG_OPTION
def signatures_list(signature_paths: tuple[str, ...]) -> None:
    """List the loaded policies by jurisdiction.

    Each with its status, dates, confidence and what it names; then which policies a plain scan checks.
    """
    sigs = loaded_signatures(signature_paths)
    config = chosen_config()
    from scanner.cli.signatures_screen import write_policy_list
    from scanner.signatures import SignatureError

    try:
        defaults = [p.id for p in sigs.select(config.policies or None)]
    except SignatureError as err:
        raise CommandError(f"the config file {config.path} names policies that are not loaded:",
                           details=err.problems) from None
    origin = config.described if config.policies else "built in"
    write_stdout(lambda out: write_policy_list(sigs, out, defaults=defaults, origin=origin))


@signatures.command("show")
@click.argument("policy_id")
@_SIGNATURES_OPTION
@CONFIG_OPTION
def signatures_show(policy_id: str, signature_paths: tuple[str, ...]) -> None:
    """Show one policy and every entry.

    The policy's facts, then each entry with its catalog apps, identifiers, makers and sources.
    """
    sigs = loaded_signatures(signature_paths)
    if policy_id not in sigs.policies:
        raise CommandError(f"unknown policy {policy_id!r}; loaded policies: {', '.join(sorted(sigs.policies))}")
    from scanner.cli.signatures_screen import write_policy

    write_stdout(lambda out: write_policy(sigs, sigs.policies[policy_id], out))


@signatures.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
def signatures_validate(paths: tuple[str, ...]) -> None:
    """Check your own catalog and policy files, with the bundled ones they may point at."""
    sigs = loaded_signatures(paths, config=False)
    from pathlib import Path

    from scanner.signatures import toml_files

    checked = {f.resolve() for p in paths for f in toml_files(Path(p))}
    apps = sum(a.source and Path(a.source).resolve() in checked for a in sigs.apps.values())
    makers = sum(bool(m.source) and Path(m.source).resolve() in checked for m in sigs.makers.values())
    policies = sum(Path(p.source).resolve() in checked for p in sigs.policies.values())
    click.echo(f"ok: {len(checked)} file(s) valid: {apps} catalog app(s), {makers} maker(s), "
               f"{policies} polic{'y' if policies == 1 else 'ies'}")
