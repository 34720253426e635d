"""Reading the XML plists iPhones send, several times faster than plistlib, with plistlib's results.

An installation_proxy Lookup of 300 apps is a 370 KB XML plist; plistlib
reads it through a Python callback per element and per piece of text (17 ms
on a quiet machine, more than half of a fleet scan's CPU). The plists devices
send use a small part of XML: Apple's header, <dict>, <array>, <key>,
<string>, <true/>, <false/>, <integer>, the five named entities. Such a
document is rewritten as JSON with a few bytes.replace passes and read by the
json module (both in C); every document that is anything else goes to
plistlib, so results and errors are plistlib's own:

- anything but exactly Apple's XML header and </plist> at the end;
- any other element or markup (<real>, <date>, <data>, attributes, comments,
  CDATA, processing instructions, DOCTYPE subsets), any tag left over once the
  known ones are rewritten, and a <key> or <string> not closed by its own end
  tag with nothing inside it;
- what XML forbids or changes in text, which expat would reject or rewrite:
  control characters, U+FFFE/U+FFFF, invalid UTF-8, "]]>", a carriage return
  (expat turns CR LF into LF), any "&" other than the five named entities;
- anything the JSON reading rejects (a key without a value, a value where a
  key belongs, unbalanced containers, stray text, an integer plistlib reads
  differently, such as "007", "+1" or "0x1F").

tests/connectors/ios/test_ios_plist.py checks loads() against plistlib.loads on
every Lookup the simulator can produce, on generated plists with hostile
strings, and on mutated documents (the same value, or the same error type).
"""

from __future__ import annotations

import json
import plistlib
import re
from typing import Any

__all__ = ["loads"]

_HEADER = re.compile(
    rb'<\?xml version="1\.0" encoding="UTF-8"\?>\n'
    rb'<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1\.0//EN" "http://www\.apple\.com/DTDs/PropertyList-1\.0\.dtd">\n'
    rb'<plist version="1\.0">'
)
_TAIL = b"</plist>"  # then only spaces, tabs and newlines to the end
# Every byte but the C0 controls XML forbids in text (all but tab and LF; CR is rewritten by expat): what
# bytes.translate(None, _ALLOWED) leaves of a body is what must not be in it.
_ALLOWED = bytes(b for b in range(256) if b >= 0x20 or b in (0x09, 0x0A))
_NON_CHARACTERS = (b"\xef\xbf\xbe", b"\xef\xbf\xbf")  # U+FFFE, U+FFFF; other markup is _SKELETON's
_LEAF = re.compile(rb"<(key|string|integer)>[^<]*</\1>")
# What is left once the leaves are taken out: only these tags, and whitespace between them.
_SKELETON = re.compile(rb"(?:[ \t\n]*<(?:/?dict|dict/|/?array|array/|true/|false/|key/|string/)>)*[ \t\n]*")
_INTEGER = re.compile(rb"<integer>(-?[0-9]+)</integer>")
_BAD_AMP = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)")
_TRAILING_COMMA = re.compile(rb",(?=[ \t\n]*[}\]])")  # replaced by b"": no template, so no Python per match

# In order: JSON's escapes first (the only backslashes and quotes are then the text's), commas of the text
# escaped so that the only bare commas are the separators added below, then the tags.
_TEXT = ((b"\\", b"\\\\"), (b'"', b'\\"'), (b",", b"\\u002c"))
_TAGS = (
    (b"<key>", b'"'), (b"</key>", b'":'), (b"<key/>", b'"":'),
    (b"<string>", b'"'), (b"</string>", b'",'), (b"<string/>", b'"",'),
    (b"<dict>", b"{"), (b"</dict>", b"},"), (b"<dict/>", b"{},"),
    (b"<array>", b"["), (b"</array>", b"],"), (b"<array/>", b"[],"),
    (b"<true/>", b"true,"), (b"<false/>", b"false,"),
)
_ENTITIES = ((b"&quot;", b'\\"'), (b"&lt;", b"<"), (b"&gt;", b">"), (b"&apos;", b"'"), (b"&amp;", b"&"))


class _Other(Exception):
    """Not a document of the kind read here: plistlib reads it."""


def _as_json(data: bytes) -> str:
    head = _HEADER.match(data)
    end = len(data.rstrip(b" \t\n")) - len(_TAIL)  # where "</plist>", then only whitespace, would start
    if head is None or end < head.end() or not data.startswith(_TAIL, end):
        raise _Other
    body = data[head.end():end]
    # Each search over a Lookup's few hundred KB costs; a test that cannot match skips it: the non-characters
    # are not ASCII, and "]]>" holds a "]" (one memchr).
    if body.translate(None, _ALLOWED) or (b"]" in body and b"]]>" in body) or (
            not body.isascii() and any(bad in body for bad in _NON_CHARACTERS)):
        raise _Other
    if _SKELETON.fullmatch(_LEAF.sub(b"", body)) is None:
        raise _Other  # other markup, stray text, or a leaf with markup inside or not closed by its own end tag
    for old, new in (*_TEXT, *_TAGS):
        if old in body:  # most are absent: a search costs less than a copy
            body = body.replace(old, new)
    if b"<integer>" in body:
        body = _INTEGER.sub(rb"\1,", body)
    if b"<" in body or _BAD_AMP.search(body) is not None:  # an <integer> plistlib reads otherwise; an entity
        raise _Other
    for old, new in _ENTITIES:
        if old in body:
            body = body.replace(old, new)
    body = _TRAILING_COMMA.sub(b"", body).rstrip(b" \t\n")
    if not body.endswith(b","):
        raise _Other
    try:
        return body[:-1].decode("utf-8")  # strict: what expat would reject is not read here
    except UnicodeDecodeError:
        raise _Other from None


def loads(data: bytes) -> Any:
    """plistlib.loads(data), faster for the XML plists devices send."""
    try:
        text = _as_json(data)
        return json.loads(text, strict=False)  # strict=False: tab and LF stand in text, as in XML
    except (_Other, ValueError, RecursionError):
        return plistlib.loads(data)
