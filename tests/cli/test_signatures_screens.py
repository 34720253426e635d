"""`scanner signatures list` and `scanner signatures show`: read by a person at an 80-column terminal.

Every line of both screens fits 80 columns for the bundled data; text from a signature file (anyone's) is
escaped and wrapped, never printed raw or cut without saying so; the list groups by jurisdiction; a company
rule shows the companies and the catalog apps it reaches.
"""

from __future__ import annotations

import io
import re
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from scanner.cli import main
from scanner.cli.signatures_screen import wrap, write_policy, write_policy_list
from scanner.signatures import load_signatures

BUNDLED = load_signatures()


def columns(line: str) -> int:
    """Terminal columns, counted independently of the code under test: CJK characters take two."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in line)


def assert_fits(text: str) -> None:
    too_long = [(columns(line), line) for line in text.splitlines() if columns(line) > 80]
    assert not too_long, too_long[:5]


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def listing(sigs=BUNDLED, **kwargs) -> str:
    out = io.StringIO()
    write_policy_list(sigs, out, **kwargs)
    return out.getvalue()


def shown(policy_id: str, sigs=BUNDLED) -> str:
    out = io.StringIO()
    write_policy(sigs, sigs.policies[policy_id], out)
    return out.getvalue()


def block(text: str, key: str) -> str:
    """The lines of one entry of `signatures show`: from its "[key]" line to the next blank line."""
    start = text.index(f"\n[{key}] ") + 1
    end = text.find("\n\n", start)
    return text[start:] if end < 0 else text[start:end]


# --- the bundled data at 80 columns -------------------------------------------------


def test_every_line_of_signatures_list_fits_80_columns_and_says_what_a_plain_scan_checks():
    text = cli("signatures", "list")
    assert_fits(text)
    for p in BUNDLED.policies.values():
        row = next(line for line in text.splitlines() if line.split()[:1] == [p.id])
        assert p.status in row and p.signed.isoformat() in row and (p.confidence or "-") in row
        assert row.split()[-1] == str(len(p.entries))
    assert "  us-eo-13971 (default) " in text and "  us-no-tiktok-gov-devices (default) " in text
    # Wrapped between policy ids only, so the wording reads as it always did once the lines are joined.
    assert ("Without --policy a scan checks: us-eo-13971, us-no-tiktok-gov-devices (defaults: built in)"
            in re.sub(r"\n +", " ", text))
    identifiers = sum(len(a.identifiers) for a in BUNDLED.apps.values())
    assert (f"Catalog: {len(BUNDLED.apps)} apps, {len(BUNDLED.makers)} makers, {identifiers} identifiers, "
            f"{len(BUNDLED.files)} files.") in text


def test_the_list_shows_what_each_policy_names_and_why_one_is_not_in_force():
    text = listing()
    assert "names: TikTok; WeChat; Telegram; products of ByteDance" in text  # Georgia 2022, in its words
    eo = text[text.index("  us-eo-13971 "):]
    assert eo.index("revoked 2021-06-09: Revoked by EO 14034") < eo.index("\n  us-")  # under its own row
    nh = text[text.index("  us-nh-governor-eo-2022 "):]
    assert "rescinded: Rescinded by" in nh.split("\n\n")[0]
    # In force: no status note in the list (show has it).
    tx = text[text.index("  us-tx-prohibited-technologies-2023 "):].split("\n  us-")[0]
    assert "Later additions" not in tx
    # Ohio names 19 things: two lines of them, then how many more, never a silent cut.
    oh = text[text.index("  us-oh-eo-2023-03d "):].split("\n\n")[0].splitlines()
    names = [line for line in oh[1:] if not line.startswith("  us-")]
    assert len(names) == 2 and re.search(r"… \(\+\d+ more\)$", names[1])


@pytest.mark.parametrize("policy_id", sorted(BUNDLED.policies))
def test_every_line_of_signatures_show_fits_80_columns(policy_id):
    text = shown(policy_id)
    assert_fits(text)
    p = BUNDLED.policies[policy_id]
    for entry in p.entries:
        assert f"[{entry.key}] " in text
    flat = re.sub(r"\n +", " ", text)
    for fact in (p.title, p.authority, p.citation, p.status, p.signed.isoformat()):
        assert fact in flat
    # Every identifier of every app an app entry names is there, with its confidence.
    for entry in p.entries:
        for ident in (BUNDLED.apps[entry.app].identifiers if entry.app else ()):
            assert f"{ident.platform} {ident.id}, {ident.confidence}" in flat


def test_the_cli_show_is_the_screen():
    assert cli("signatures", "show", "us-va-eo-24") == shown("us-va-eo-24")


# --- jurisdictions ----------------------------------------------------------------------

ALASKA = """\
kind = "policy"
schema = 2
id = "us-ak-test"
title = "Alaska test policy"
jurisdiction = "us-ak"
authority = "A"
citation = "C"
signed = 2025-01-01
status = "internal"
url = "https://x.example/"

[[entries]]
key = "cs"
listed = "CamScanner"
app = "camscanner"
relation = "app"
severity = "prohibited"
"""

SCHEMA_1 = """\
kind = "policy"
schema = 1
id = "acme-old"
title = "ACME, before jurisdictions"
authority = "ACME IT"
citation = "SEC-1"
signed = 2020-01-01
status = "in-force"
url = "https://acme.example/"

[[entries]]
key = "cs"
listed = "CamScanner"
app = "camscanner"
relation = "app"
severity = "prohibited"
"""


def test_the_list_groups_by_jurisdiction_federal_first_then_states_by_name(tmp_path):
    (tmp_path / "ak.toml").write_text(ALASKA, encoding="utf-8")
    (tmp_path / "old.toml").write_text(SCHEMA_1, encoding="utf-8")
    sigs = load_signatures([tmp_path])
    text = listing(sigs)
    headings = [line for line in text.splitlines() if line and not line.startswith(" ") and "(" in line
                and not line.startswith(("Without", "Catalog"))]
    assert headings[0] == "Federal (us-fed)"
    states = headings[1:-1]
    # By name, not by code: Alabama (us-al) before Alaska (us-ak), New York (us-ny) before North Dakota (us-nd).
    assert states[:2] == ["Alabama (us-al)", "Alaska (us-ak)"]
    assert states == sorted(states, key=str.casefold)
    assert states.index("New York (us-ny)") < states.index("North Dakota (us-nd)")
    assert "Texas (us-tx)" in states and headings[-1] == "No jurisdiction (schema-1 policies)"
    # Each policy sits under its own heading.
    current = None
    for line in text.split("\nWithout --policy")[0].splitlines():
        if line in headings:
            current = line
        elif line.startswith("  ") and not line.startswith("   ") and current:
            policy = sigs.policies.get(line.split()[0])
            if policy is not None:
                assert current.endswith(f"({policy.jurisdiction})") or policy.jurisdiction is None
    # A schema-1 policy without `names` is described by what its entries list.
    assert "names: CamScanner" in text.split("No jurisdiction (schema-1 policies)")[1]


def test_a_config_s_defaults_are_marked_and_their_origin_said():
    text = listing(defaults=["us-tx-sb-1893"], origin="/etc/scanner.toml ($SCANNER_CONFIG)")
    assert "  us-tx-sb-1893 (default) " in text and "us-eo-13971 (default)" not in text
    assert "Without --policy a scan checks: us-tx-sb-1893 (defaults: /etc/scanner.toml ($SCANNER_CONFIG))" in text


# --- hostile text -----------------------------------------------------------------------

LONG_TITLE = " ".join(f"word{i}" for i in range(150))
UNBROKEN = "Z" * 300


def hostile_policy() -> str:
    return f"""\
kind = "policy"
schema = 2
id = "evil"
title = "Evil \\u001b]0;owned\\u0007 \\u202emoc.live {LONG_TITLE} {UNBROKEN} end"
jurisdiction = "us-tx"
authority = "A\\u001b[2J"
citation = "C"
signed = 2025-01-01
status = "revoked"
status_note = "Revoked \\u001b[31mred\\u001b[0m {LONG_TITLE}"
url = "https://x.example/{'a/' * 100}"
names = ["\\u202eTikTok", "{'N' * 400}"]

[[entries]]
key = "cs"
listed = "Cam\\u001b[8mScanner\\u200f"
app = "camscanner"
relation = "app"
severity = "prohibited"
note = "a\\rb"
"""


@pytest.fixture
def evil(tmp_path: Path):
    (tmp_path / "evil.toml").write_text(hostile_policy(), encoding="utf-8")
    return load_signatures([tmp_path])


def assert_inert(text: str) -> None:
    assert not [ch for ch in text if ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf")], "raw control text"


def test_hostile_text_in_a_policy_file_is_escaped_and_wrapped_in_show(evil):
    text = shown("evil", evil)
    assert_inert(text)
    assert_fits(text)
    assert "\\x1b]0;owned\\x07" in text and "\\u202emoc.live" in text and "A\\x1b[2J" in text
    assert "Cam\\x1b[8mScanner\\u200f" in text and "a\\rb" in text
    # The long title is wrapped, all of it there: its words in order once the lines are joined ...
    flat = re.sub(r"\n +", " ", text)
    assert LONG_TITLE in flat and "Revoked \\x1b[31mred\\x1b[0m " + LONG_TITLE in flat
    # ... and a word longer than a line is split across lines, not cut.
    assert UNBROKEN in re.sub(r"\n +", "", text)
    title_lines = text.split("\n  jurisdiction:")[0].splitlines()
    assert len(title_lines) > 10 and title_lines[-1].endswith(" end")


def test_hostile_text_in_a_policy_file_is_escaped_in_the_list_and_shortened_visibly(evil):
    text = listing(evil)
    assert_inert(text)
    assert_fits(text)
    row = text[text.index("  evil "):].split("\n\n")[0]
    assert "names: \\u202eTikTok" in row
    assert "…" in row  # 400 Ns do not fit two lines: cut, and said so
    assert "Revoked \\x1b[31mred\\x1b[0m" in row and len(row.splitlines()) <= 1 + 2 + 3


def test_wrap_never_splits_an_escape_and_counts_wide_characters_as_two():
    text = "x" * 71 + "\\x1b" * 10  # 80 columns would end inside the third escape
    lines = wrap(text, "  ")
    assert "".join(line.strip() for line in lines) == text
    for line in lines:
        assert columns(line) <= 80
        assert re.fullmatch(r" *x*(\\x1b)*", line), line
    cjk = " ".join(["\u5fae\u4fe1\u652f\u4ed8"] * 30)  # 8 columns a word
    lines = wrap(cjk, "    ")
    assert all(columns(line) <= 80 for line in lines) and max(columns(line) for line in lines) > 70
    assert wrap("https://dir.texas.gov/information-security/covered-applications-and-prohibited-technologies",
                "  url:          ")[0].endswith("information-security/")


@pytest.mark.parametrize("xs", range(4))  # one of these puts the cut inside an escape
def test_the_list_never_cuts_a_name_inside_an_escape(tmp_path, xs):
    # One name too long for its two lines is cut with " …"; the cut must not leave "\\x1" for "\\x1b".
    (tmp_path / "p.toml").write_text(POLICY_WITH_NAME.format(name="N" * (100 + xs) + "\\u001b" * 60),
                                     encoding="utf-8")
    row = listing(load_signatures([tmp_path]))
    row = row[row.index("  us-tx-cut "):].split("\n\n")[0]
    cut = [line for line in row.splitlines() if line.endswith(" …")]
    assert cut and re.fullmatch(r" +N*(\\x1b)*", cut[0][:-2]), cut


POLICY_WITH_NAME = """\
kind = "policy"
schema = 2
id = "us-tx-cut"
title = "Cut"
jurisdiction = "us-tx"
authority = "A"
citation = "C"
signed = 2025-01-01
status = "in-force"
url = "https://x.example/"
names = ["{name}"]

[[entries]]
key = "cs"
listed = "CamScanner"
app = "camscanner"
relation = "app"
severity = "prohibited"
"""


# --- company rules ----------------------------------------------------------------------


def test_a_maker_entry_shows_the_companies_and_every_catalog_app_it_reaches():
    text = shown("us-tx-prohibited-technologies-2023")
    tencent = block(text, "tencent")
    assert "a company rule" in tencent and "maker tencent: Tencent Holdings Ltd." in tencent
    assert "subsidiaries: Sogou (sogou)" in tencent and "affiliates and theirs:" in tencent
    assert "ios team 88L2Q4487U of Tencent Holdings Ltd." in tencent
    entry = next(e for e in BUNDLED.policies["us-tx-prohibited-technologies-2023"].entries if e.key == "tencent")
    reached = BUNDLED.apps_of(BUNDLED.reach(entry.maker, entry.affiliates))
    assert f"catalog apps reached: {len(reached)}" in tencent
    for app in reached:
        assert f"  app {app.id}: " in tencent
    # The decoys of EO 13971 are here, with their identifiers.
    for app_id, ident in (("sogou-input", "com.sohu.inputmethod.sogou"), ("wecom", "com.tencent.wework"),
                          ("pubg-mobile", "com.tencent.ig")):
        assert f"  app {app_id}: " in tencent and f"android {ident}, " in tencent
    # An app another entry names is that entry's, and said so; its identifiers are listed there.
    assert re.search(r"app wechat: WeChat, by .*named by entry\s+\[wechat\]", tencent)
    assert "com.tencent.mm" not in tencent and "com.tencent.mm" in block(text, "wechat")
    # Without affiliates = true the related companies are said not to be covered.
    ant = block(text, "ant-group")
    assert "not covered (affiliates = false):" in ant and "Alibaba Group" in ant


MAKER = """\
kind = "maker"
schema = 2
id = "acme-corp"
name = "ACME Corp."
sources = ["acme.example annual report"]

[[team_ids]]
id = "ACME123456"
holder = "ACME Corp."
confidence = "reported"
sources = ["acme.example developer page"]
"""

SUBSIDIARY = """\
kind = "maker"
schema = 2
id = "acme-labs"
name = "ACME Labs"
parent = "acme-corp"
sources = ["acme.example annual report"]
"""

APP = """\
kind = "app"
schema = 2
id = "acme-chat"
name = "Acme Chat"
maker = "acme-labs"

[[identifiers]]
platform = "android"
id = "com.acme.chat"
edition = "Acme Chat"
confidence = "reported"
sources = ["acme.example store page"]
"""

COMPANY_POLICY = """\
kind = "policy"
schema = 2
id = "acme-ban"
title = "No ACME"
jurisdiction = "us-tx"
authority = "IT"
citation = "IT-1"
signed = 2025-01-01
status = "internal"
url = "https://it.example/1"
names = ["ACME Corp. and any subsidiary"]

[[entries]]
key = "acme"
listed = "ACME Corp. and any subsidiary"
maker = "acme-corp"
relation = "maker"
severity = "prohibited"
"""


def test_a_company_rule_of_yours_reaches_the_apps_of_the_maker_s_subsidiaries_and_validate_counts_makers(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    for name, text in (("m.toml", MAKER), ("s.toml", SUBSIDIARY), ("a.toml", APP), ("p.toml", COMPANY_POLICY)):
        (mine / name).write_text(text, encoding="utf-8")
    out = cli("signatures", "validate", str(mine))
    assert out.strip() == "ok: 4 file(s) valid: 1 catalog app(s), 2 maker(s), 1 policy"
    text = cli("signatures", "show", "acme-ban", "--signatures", str(mine))
    assert_fits(text)
    acme = block(text, "acme")
    assert "subsidiaries: ACME Labs (acme-labs)" in acme and "catalog apps reached: 1" in acme
    assert "app acme-chat: Acme Chat, by ACME Labs (acme-labs)" in acme
    assert "android com.acme.chat, reported: Acme Chat" in acme and "acme.example store page" in acme
    assert "ios team ACME123456 of ACME Corp.: ACME Corp., reported" in acme
    assert "Texas (us-tx)" in cli("signatures", "list", "--signatures", str(mine))
