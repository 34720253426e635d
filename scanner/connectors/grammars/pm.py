"""The grammar of a `pm list packages` line (with any of -f, -i, -U and
--show-versioncode), of the refusal pm prints for a user it may not list, and
of the status lines adb prints before a listing when it starts its server.

Shared by the live listing (scanner.connectors.android.parse) and the file
reader of a saved listing (scanner.connectors.files.readers.pm), so that a
listing read from a phone and the same listing saved to a file are read, and
their damaged lines searched, the same way.
"""

from __future__ import annotations

import re

__all__ = ["ADB_STATUS", "PM_PREFIX", "PM_REFUSED", "pm_evidence", "pm_line"]

PM_PREFIX = "package:"
# `pm list packages [-f] [-i] [-U] [--show-versioncode]`: the path holds "=" ("~~abc==/"), so the
# package is the last "="-free word before the optional fields. A greedy `(.+)=` would stop at
# `installer=` and return the installer as the package. Digits are bounded so that int() never
# meets a hostile 5,000-digit uid. Every field is held to what pm really prints: an absolute path of
# printable ASCII that never holds "package:" (two lines joined into one would otherwise read as the
# second app only: pm_line() checks that first, since a lookahead inside the repeat costs the regex
# engine memory for every character of a hostile 50 MB line), an installer that is a package name (or
# "null"), spaces between fields. NUL padding, ESC, bidi marks or any other control character in a field
# therefore make no match. The package itself is
# checked by clean_id, which says what is wrong with it. Shared with the live listing (android/parse.py).
_PM_LINE = re.compile(
    r"^package:(?:(?P<path>/[!-~]*)=)?(?P<pkg>[^=\s]+)(?: versionCode:(?P<code>\d{1,19}))?"
    r"(?: +installer=(?P<installer>[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*))?(?: uid:(?P<uid>\d{1,10}))?[ \t]*\r?$"
)


def pm_line(text: str) -> re.Match[str] | None:
    """The fields of one `pm list packages` line, or None when it is not one (a second "package:" in it
    means two lines joined)."""
    return None if text.find(PM_PREFIX, 1) >= 0 else _PM_LINE.match(text)


PM_REFUSED = re.compile(r"SecurityException: .*?\buser (\d{1,10})\b")
# What adb prints when it has to start (or restart) its server before running the command: on stderr
# since adb 1.0.36 and on stdout before, so a listing saved with 2>&1 or copied from a console begins
# with it. Recognised whole and exactly (a port, never a name): such a line holds no app.
ADB_STATUS = re.compile(
    r"\* daemon not running; starting now at tcp:\d{1,5}"
    r"|\* daemon not running\. starting it now on port \d{1,5} \*"
    r"|\* daemon started successfully(?: \*)?"
    r"|adb server version \(\d{1,5}\) doesn't match this client \(\d{1,5}\); killing\.\.\."
    r"|adb server is out of date\.  killing\.\.\."
)


def pm_evidence(text: str | bytes) -> str | bytes:
    """The text of a line that was not read, to be searched for whole ids;
    with its records split apart when several were joined, since the join
    glues one app's id to the next record ("com.tencent.mmpackage:").
    Shared with the live listing, whose lines are bytes."""
    if isinstance(text, bytes):
        return text if text.find(b"package:", 1) < 0 else text + b"\n" + text.replace(b"package:", b"\n")
    return text if text.find(PM_PREFIX, 1) < 0 else text + "\n" + text.replace(PM_PREFIX, "\n")
