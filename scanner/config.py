"""An admin's own defaults: the policies a plain `scanner scan` checks and the signature files it loads.

So that a Texas admin's audit script can say nothing more than `scanner
scan`, a small TOML file names them:

    # ~/.config/scanner/config.toml
    policies = ["us-tx"]                       # used when no --policy is given
    signatures = ["/etc/scanner/signatures"]   # loaded beside the bundled ones, before any --signatures

Which file, first match wins: `--config PATH`; $SCANNER_CONFIG; the
per-user location of the OS (default_path()). A file named by `--config` or
$SCANNER_CONFIG must exist; one at the default location is optional. The
file is strict, as signature files are: an unknown key or a wrong type is
an error that names the file, and nothing is scanned. Relative paths in
`signatures` are taken from the config file's folder (the folder of the
file a link points at), so a config checked into a repository works from
any working directory, and linked into ~/.config as well.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ENV", "Config", "ConfigError", "default_path", "load_config"]

ENV = "SCANNER_CONFIG"
_KEYS = {"policies", "signatures"}


class ConfigError(Exception):
    """A config file that cannot be used; str() says which file and what to do."""


@dataclass(frozen=True)
class Config:
    """What the config file chose (nothing, when there is none)."""

    path: str | None  # the file read, or None
    origin: str  # how it was found: "--config", "$SCANNER_CONFIG", "the default location", or "none"
    policies: tuple[str, ...] = ()  # --policy values to use when none is given ("us-tx", "all", an id)
    signatures: tuple[str, ...] = ()  # signature files or folders to load, absolute

    @property
    def described(self) -> str:
        """Where the defaults came from, for `scanner signatures list`."""
        return f"{self.path} ({self.origin})" if self.path else "built in"


def default_path(platform: str | None = None, environ: dict[str, str] | None = None) -> Path:
    """The per-user config file of the OS: $XDG_CONFIG_HOME/scanner/config.toml (Linux and others, default
    ~/.config), ~/Library/Application Support/scanner/config.toml (macOS), %APPDATA%\\scanner\\config.toml
    (Windows)."""
    platform = platform or sys.platform
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or Path.home())
    if platform.startswith("win"):
        base = Path(env["APPDATA"]) if env.get("APPDATA") else home / "AppData" / "Roaming"
    elif platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        xdg = env.get("XDG_CONFIG_HOME")
        base = Path(xdg) if xdg and Path(xdg).is_absolute() else home / ".config"
    return base / "scanner" / "config.toml"


def load_config(explicit: str | None = None, environ: dict[str, str] | None = None) -> Config:
    """The config in force: from `explicit` (--config), else $SCANNER_CONFIG, else the default location."""
    env = os.environ if environ is None else environ
    if explicit is not None:
        return _read(Path(explicit), "--config", required=True)
    if env.get(ENV):
        return _read(Path(env[ENV]), f"${ENV}", required=True)
    return _read(default_path(environ=env), "the default location", required=False)


def _read(path: Path, origin: str, *, required: bool) -> Config:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        if required:
            raise ConfigError(f"the config file {path} ({origin}) does not exist; check the path, or leave "
                              f"out {origin} to use the built-in defaults") from None
        return Config(None, "none")
    except OSError as err:
        raise ConfigError(f"the config file {path} ({origin}) cannot be read: {err.strerror or err}") from None
    import tomllib  # here: most runs have no config file, and the import costs every start-up a few ms

    try:
        doc = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise ConfigError(f"the config file {path} ({origin}) is not valid TOML: {err}; fix it") from None
    unknown = sorted(set(doc) - _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {unknown[0]!r}; a config file may set only "
                          f"{' and '.join(sorted(_KEYS))}")
    policies = _strings(doc, "policies", path)
    folder = path.resolve().parent  # a linked config (a repository's, linked into ~/.config): where it really is
    signatures = tuple(str((folder / s) if not Path(s).is_absolute() else Path(s))
                       for s in _strings(doc, "signatures", path))
    return Config(str(path), origin, policies, signatures)


def _strings(doc: dict, key: str, path: Path) -> tuple[str, ...]:
    value = doc.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        example = '["us-tx"]' if key == "policies" else '["/etc/scanner/signatures"]'
        raise ConfigError(f"{path}: {key} must be a list of non-empty strings, e.g. {key} = {example}")
    return tuple(v.strip() for v in value)
