"""csv drops an escape character before any character; a backslash that escapes nothing is a damaged line."""

from __future__ import annotations

import io

from scanner.connectors.files.connector import read_input

HEAD = b"CFBundleIdentifier, CFBundleShortVersionString, CFBundleDisplayName\n"


def test_a_stray_backslash_in_an_id_is_a_bad_line_not_another_id():
    (inv,) = read_input("x.csv", io.BytesIO(HEAD + b'"com.\\pple.Pages", "1.0", "Pages"\ncom.apple.Maps, "1", "Maps"\n'))
    assert [a.id for a in inv.apps] == ["com.apple.Maps"]  # never com.pple.Pages
    assert inv.status == "partial" and "backslash" in inv.problems[0]


def test_an_escaped_quote_in_a_name_is_still_read():
    (inv,) = read_input("x.csv", io.BytesIO(HEAD + b'com.apple.Pages, "1.0", "Pa\\"ges"\n'))
    assert inv.status == "complete" and inv.apps[0].name == 'Pa"ges'
