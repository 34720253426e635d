"""The table: terminal-safe, a block per device with its verdict, then the summary."""

from __future__ import annotations

from report_samples import CLEAN, make_report, render, with_inventory

from scanner.formats.table import write_table


def assert_terminal_safe(text: str) -> None:
    lines = text.split("\n")
    for ch in ["\x1b", "\r", "\t", "\x07", "\u202e", "\u200e", "\u2066", "\ufeff"]:
        assert ch not in text, f"raw {ch!r} in table output"
    assert "line1" not in [line.strip() for line in lines]  # the hostile newline did not split a line
    assert not any(line.startswith("line2") for line in lines)


def test_table_is_terminal_safe_and_shows_escapes_and_truncation():
    text = render(write_table, make_report())
    assert_terminal_safe(text)
    assert "\\x1b[31mred\\x1b[0m" in text  # the hostile app id and model, escaped
    assert "a\\u202eevil" in text  # the hostile device name and app id
    assert "export\\u202e.csv" in text  # the failed input's name
    assert "\\x1b]0;pwned\\x07" in text  # a device message
    assert "refused\\r\\nby device" in text  # a refused scope's reason
    assert "line 7: not valid UTF-8 \\x1b[2J" in text  # a problem
    assert "N" * 10_000 not in text


def test_table_inventory_truncates_the_long_name():
    text = render(write_table, with_inventory(make_report()))
    assert_terminal_safe(text)
    assert "N" * 120 + "…(+9880 chars)" in text
    assert "N" * 121 not in text
    assert "apps read (5):" in text and "com.android.chrome" in text
    assert "apps read: none" in text  # the failed device


def test_table_device_blocks_show_status_findings_and_verdicts():
    text = render(write_table, make_report())
    assert text.startswith("[1/4] 1A2B3C4D  Android · ")
    phone = text[:text.index("[2/4]")]
    assert "Android 14" in phone and "— complete" in phone
    assert "feature-of: WeChat Pay is a feature of WeChat [identifier reported, not confirmed]" in phone
    assert "related: Weixin is related to WeChat Pay (same maker, not named)" in phone
    assert "us-eo-13971 (revoked)" in phone
    assert "disabled" in phone and "uninstalled-data-kept" in phone  # states other than installed

    iphone_start = text.index("[2/4] 00008110-001A")
    iphone = text[iphone_start:text.index("[3/4]")]
    assert "— partial (bad-lines)\n  line 7 could not be read" in iphone
    assert "not read: records: refused\\r\\nby device" in iphone
    assert "problems: 12, 2 shown" in iphone
    assert "app extension of WeChat (com.tencent.xin)" in iphone
    assert "same developer (88L2Q4487U) as WeChat" in iphone
    assert "us-no-tiktok-gov-devices (in-force)" in iphone
    assert "offloaded" in iphone
    assert "verdict: findings-incomplete — 3 findings (2 prohibited, 1 review)" in iphone

    failed = text[text.index("[3/4]"):text.index("[4/4]")]
    assert "— failed (unauthorized)\n  Unlock the phone" in failed
    assert "verdict: failed — nothing could be read" in failed
    assert "relation" not in failed  # no findings table

    clean = text[text.index("[4/4]"):text.index("Summary")]
    assert "verdict: clean — nothing listed in 1 app read" in clean
    assert "relation" not in clean


def test_table_summary_gives_counts_policies_and_exit_code():
    text = render(write_table, make_report())
    summary = text[text.index("Summary"):]
    assert "devices:  4 (2 complete, 1 partial, 1 failed); 9 apps read" in summary
    assert "findings: 8 (6 prohibited, 2 review) on 2 devices" in summary
    assert "us-eo-13971 (revoked)" in summary and "Revoked by EO 14034" in summary
    assert "verdict:  findings-incomplete (exit 5" in summary

    clean = render(write_table, make_report(CLEAN))
    assert "verdict:  clean (exit 0" in clean


def test_table_colour_only_when_asked():
    plain = render(write_table, make_report())
    coloured = render(write_table, make_report(), color=True)
    assert "\x1b" not in plain
    assert "\x1b[31mprohibited\x1b[0m" in coloured
    # Colour never lets the hostile ESC through.
    assert "\x1b[31mred" not in coloured


def test_table_does_not_import_tabulate_at_module_import():
    import subprocess
    import sys

    code = "import sys, scanner.formats.table, scanner.terminal.text; print('tabulate' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
