"""The demo's HTML report: `scanner demo -o html=PATH` run as its own process (the emulated fleet through the
real adb server and pymobiledevice3), its page checked against the JSON report of the same run, and rendered
in a real headless browser (Debian's chromium) when one is installed: it loads with no console error, asks
for nothing but itself, fits A4's printable width in print, and its screenshot and PDFs (A4, Letter) are kept
under $SCANNER_TEST_ARTIFACTS (or the test's tmp_path) in html-report/.
"""

from __future__ import annotations

import json
import os
import re
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from headless_chromium import CHROMIUM, PAPER, render
from html_dom import parse

from scanner.formats.html import CSP

CHROMIUM_MISSING = (f"Debian's chromium is not installed ({CHROMIUM}): `apt-get install chromium` to run the "
                    "HTML report's browser check (.ci/run installs it when apt-get is available)")


def _free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> dict:
    """One run of the demo with --inventory, writing the HTML and the JSON report of the same scan."""
    folder = tmp_path_factory.mktemp("html-demo")
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_DATA_HOME", "SUDO_USER", "PYTHONPATH") and not k.startswith(("ADB_", "ANDROID_"))}
    env.update({"HOME": str(folder / "home"), "USBMUXD_SOCKET_ADDRESS": _free_address(), "PYTHONIOENCODING": "utf-8"})
    proc = subprocess.run([sys.executable, "-m", "scanner", "demo", "--inventory", "--quiet", "-o", "html=demo.html",
                           "-o", "json=demo.json"], cwd=folder, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 5, (proc.stdout[-2000:], proc.stderr[-2000:])  # findings, and devices not fully read
    return {"folder": folder, "html": folder / "demo.html", "json": json.loads((folder / "demo.json").read_text())}


def test_the_demo_page_agrees_with_the_json_report_of_the_same_scan(demo):
    text = demo["html"].read_text(encoding="ascii")
    report = demo["json"]
    dom = parse(text)
    assert dom.find("meta", http_equiv="Content-Security-Policy").attrs["content"] == CSP
    cards = dom.find_all("article", cls="device")
    assert [c.attrs["data-verdict"] for c in cards] == [d["verdict"] for d in report["devices"]]
    assert len(cards) == 4 and {c.attrs["data-verdict"] for c in cards} == {"findings", "findings-incomplete",
                                                                            "failed", "clean"}
    for card, device in zip(cards, report["devices"], strict=True):
        assert (device["device"]["serial"] or "") in card.find("h3").text
        findings = card.find_all("table", cls="findings")
        apps = {(f["app"]["platform"], f["app"]["id"], f["app"]["user"]) for f in device["findings"]}
        assert (len(findings[0].rows()) if findings else 0) == len(apps)  # a row per installed app
        assert (len(findings[0].find_all("li")) if findings else 0) == len(device["findings"])
        inventory = card.find_all("table", cls="inventory")
        assert (len(inventory[0].rows()) if inventory else 0) == len(device["inventory"])
        if device["status"] != "complete":
            todo = card.find("div", cls="todo").text
            assert device["reason"] in todo and device["message"] in todo
    summary = dom.find("section", id="summary")
    figures = {f.find("span").text: f.find("b").text for f in summary.find_all("div", cls="figure")}
    s = report["summary"]
    assert figures["devices scanned"] == str(s["devices"]) and figures["findings"] == str(s["findings"])
    assert figures["prohibited"] == str(s["prohibited"]) and figures["apps read"] == str(s["apps_read"])
    assert figures["devices not fully read"] == str(s["partial"] + s["failed"])
    verdict = dom.find("p", cls="verdict-line").text
    assert f"exit code {report['exit_code']}" in verdict and "FINDINGS, NOT FULLY READ" in verdict
    policies = dom.find("header", id="top").find("table").rows()
    assert len(policies) == len(report["policies"])
    assert all(r[0].startswith(p["id"] + p["title"]) for r, p in zip(policies, report["policies"], strict=True))
    assert all(r[1].startswith(p["status"]) for r, p in zip(policies, report["policies"], strict=True))
    assert "WeChat" in summary.find("div", id="by-app").text and "CamScanner" in summary.find("div", id="by-app").text


def _artifacts(tmp_path: Path) -> Path:
    base = os.environ.get("SCANNER_TEST_ARTIFACTS")
    folder = (Path(base) if base else tmp_path) / "html-report"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _pdf_pages(data: bytes) -> list[tuple[float, float]]:
    assert data.startswith(b"%PDF-")
    return [(float(w), float(h)) for w, h in re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", data)]


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=CHROMIUM_MISSING)
def test_the_demo_page_in_a_real_browser_loads_clean_asks_for_nothing_and_prints(demo, tmp_path):
    page = demo["html"]
    seen = render(page, tmp_path / "profile", tmp_path / "chromium.log")
    keep = _artifacts(tmp_path)
    (keep / "demo-report.html").write_bytes(page.read_bytes())
    (keep / "demo-report.png").write_bytes(seen.screenshot)
    (keep / "demo-report-print.png").write_bytes(seen.print_screenshot)
    for paper, pdf in seen.pdfs.items():
        (keep / f"demo-report-{paper}.pdf").write_bytes(pdf)
    log = (tmp_path / "chromium.log").read_text(errors="replace")
    # The page asked for itself and nothing else, and nothing failed to load.
    assert seen.requests == [seen.url], seen.requests
    assert seen.failed == []
    # No console message, log entry or exception of level warning or error (a CSP violation would be one).
    assert seen.errors == [], (seen.errors, log[-3000:])
    # The browser built the same page html.parser reads: same number of elements, no script.
    screen = seen.layout["screen"]
    assert screen["scripts"] == 0
    assert screen["elements"] == len(parse(page.read_text(encoding="ascii")).elements)
    assert screen["title"].startswith("scanner report: findings, not fully read")
    assert screen["scrollWidth"] <= screen["clientWidth"]  # nothing wider than the window on screen
    # In print, nothing is wider than A4's printable width (Letter's is wider).
    printed = seen.layout["print"]
    assert printed["wide"] == [] and printed["scrollWidth"] <= printed["clientWidth"], printed
    width, height = _png_size(seen.screenshot)
    assert width == 1200 and height >= 900
    for paper, (w, h) in PAPER.items():
        pages = _pdf_pages(seen.pdfs[paper])
        assert pages and all(abs(pw - w * 72) < 1.5 and abs(ph - h * 72) < 1.5 for pw, ph in pages), (paper, pages)


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=CHROMIUM_MISSING)
def test_the_browser_check_sees_a_request_and_a_policy_violation(tmp_path):
    """The check above can fail: a page that fetches an image is seen asking for it, and under the report's CSP
    it is seen asking and being refused, with a console error for the image and one for a style attribute."""
    img = '<img src="http://fetch.invalid/x.png" alt="">'
    bare = tmp_path / "bare.html"
    bare.write_text(f"<!DOCTYPE html><html><head><title>t</title></head><body>{img}</body></html>")
    seen = render(bare, tmp_path / "profile-1", tmp_path / "chromium-1.log")
    assert "http://fetch.invalid/x.png" in seen.requests
    guarded = tmp_path / "guarded.html"
    guarded.write_text(f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}">'
                       f"<title>t</title></head><body>{img}<p style=\"color:red\">x</p></body></html>")
    seen = render(guarded, tmp_path / "profile-2", tmp_path / "chromium-2.log")
    assert seen.requests == [seen.url, "http://fetch.invalid/x.png"] and [f.split() for f in seen.failed] == [["csp"]]
    assert any("img-src 'none'" in e for e in seen.errors), seen.errors
    assert any("Applying inline style violates" in e for e in seen.errors), seen.errors


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_scan_writes_the_page_on_stdout_and_to_a_file_with_the_scan_s_exit_code(tmp_path):
    fleet = EXAMPLES / "fleet.csv"
    out = tmp_path / "fleet.html"
    proc = subprocess.run([sys.executable, "-m", "scanner", "scan", "--quiet", "--input", str(fleet), "--format",
                           "html", "-o", f"html={out}", "-o", f"json={tmp_path / 'fleet.json'}"],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, check=False)
    report = json.loads((tmp_path / "fleet.json").read_text())
    assert proc.returncode == report["exit_code"] == 1, proc.stderr
    assert proc.stdout.startswith("<!DOCTYPE html>") and proc.stdout.rstrip().endswith("</html>")
    assert out.stat().st_mode & 0o077 == 0  # a report file is its owner's only
    for text in (proc.stdout, out.read_text(encoding="ascii")):
        dom = parse(text)
        cards = dom.find_all("article", cls="device")
        assert [c.attrs["data-verdict"] for c in cards] == [d["verdict"] for d in report["devices"]]
        assert [dd.text for dd in dom.find("header", id="top").find("dl").find_all("dd")][3].startswith(
            f"{len(report['signature_files'])} files")


@pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason=CHROMIUM_MISSING)
def test_hostile_names_in_a_real_browser_build_no_element_and_fetch_nothing(tmp_path):
    """Every hostile string in every field: the browser builds exactly as many elements as for the plain twin,
    runs no script and asks for nothing but the page."""
    from test_html_report import HOSTILE, build_hostile, html_of

    strings = [h[:200] for h in HOSTILE]
    hostile = tmp_path / "hostile.html"
    hostile.write_text(html_of(build_hostile(lambda i: strings[i % len(strings)] + f" #{i}")), encoding="ascii")
    twin = tmp_path / "twin.html"
    twin.write_text(html_of(build_hostile(lambda i: f"plain #{i}")), encoding="ascii")
    seen = render(hostile, tmp_path / "profile-1", tmp_path / "chromium-1.log")
    plain = render(twin, tmp_path / "profile-2", tmp_path / "chromium-2.log")
    (_artifacts(tmp_path) / "hostile-report.png").write_bytes(seen.screenshot)
    assert seen.requests == [seen.url] and seen.failed == [] and seen.errors == [], (seen.requests, seen.errors)
    assert seen.layout["screen"]["scripts"] == 0
    assert seen.layout["screen"]["elements"] == plain.layout["screen"]["elements"]
    assert seen.layout["print"]["wide"] == [], seen.layout["print"]  # long hostile names wrap, in print too
