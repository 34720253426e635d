"""The table: terminal-safe, a block per device with its verdict, then the summary."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

from report_samples import CLEAN, F_NAME, MDM_PHONE, desktop, make_mdm_report, make_report, render, with_inventory

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
    # Grouped by app (issue 15): three apps, one finding each.
    assert ("verdict: findings-incomplete — 2 apps to remove, 1 to review (3 findings: 2 prohibited, 1 review)"
            in iphone)

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
    # Grouped by app (issue 15); com.tencent.mm is one app in user 0 and another in user 10.
    assert "findings: 6 apps to remove, 2 to review (8 findings: 6 prohibited, 2 review) on 2 devices" in summary
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


# --- MDM exports: evidence, identity, inventory date, devices not checked, accepted scopes -------------


def test_table_says_what_a_finding_rests_on_when_it_is_not_an_app_id():
    text = render(write_table, make_mdm_report())
    assert_terminal_safe(text)
    phone = text[:text.index("[2/2]")]
    assert "app: the listed app, by display name only: the source gives no app id" in phone
    assert "\\x1b[31mred\\x1b[0mWeChat" in phone  # the hostile display name, escaped
    aggregate = text[text.index("[2/2]"):text.index("Summary")]
    assert "app: the listed app [on 3 devices (aggregate: no device list)]" in aggregate
    # An identifier finding says nothing of the kind.
    plain = render(write_table, make_report())
    assert "display name" not in plain and "aggregate" not in plain
    # A name finding under another relation says it too, in its explanation.
    feature = replace(F_NAME, relation="feature-of")
    text = render(write_table, make_mdm_report(replace(MDM_PHONE, findings=(feature,))))
    assert "by its display name '微信' only" in text and "[by display name only]" not in text


def test_table_device_heading_shows_identity_and_inventory_date_escaped():
    text = render(write_table, make_mdm_report())
    heading = text.splitlines()[0]
    assert heading.startswith("[1/2] Intune id 2f6c0a  Android · Pixel 8")
    assert "serial R58N\\x1b[31mred\\x1b[0m · user sam@example.coma\\u202eevil · mdm id 2f6c0a" in heading
    assert "inventoried 2025-02-20" in heading
    # The date is the UTC one, whatever zone the source gave it in.
    late = datetime(2025, 2, 20, 23, 30, tzinfo=timezone(timedelta(hours=-5)))
    text = render(write_table, make_mdm_report(replace(MDM_PHONE, device=replace(MDM_PHONE.device, inventoried=late))))
    assert "inventoried 2025-02-21" in text


def test_table_summary_lists_devices_not_checked_and_the_options():
    text = render(write_table, make_mdm_report())
    assert_terminal_safe(text)
    summary = text[text.index("Summary"):]
    assert ("2 devices not checked: a Windows computer LT-0042 (812 app rows), a Mac MBP \\x1b[31mred\\x1b[0m "
            "(97 app rows); scanner checks phones and tablets") in summary
    assert "accepted: the MDM's view of 1 device (--accept-scope mdm)" in summary
    assert "older than 30 days, or with no date, were made partial (--max-age 30)" in summary
    assert "devices:  2 (1 complete, 1 partial, 0 failed)" in summary  # computers are not devices of the verdict

    many = tuple(desktop(i, name=f"PC-{i}", rows=i) for i in range(8)) + (desktop(9, platform="linux\x1b[2J"),)
    summary = render(write_table, make_mdm_report(not_checked=many, accepted_scopes=(), max_age=None))
    assert "9 devices not checked: a Windows computer PC-0 (0 app rows), a Windows computer PC-1 (1 app row)," in summary
    assert "PC-4 (4 app rows), and 4 more;" in summary and "PC-5" not in summary
    assert "accepted:" not in summary and "max age:" not in summary
    one = render(write_table, make_mdm_report(not_checked=(desktop(9, platform="linux\x1b[2J"),)))
    assert_terminal_safe(one)
    assert "1 device not checked: a linux\\x1b[2J device LT-0042 (812 app rows);" in one
    assert "not checked" not in render(write_table, make_report())
