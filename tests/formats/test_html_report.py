"""The HTML report: its structure (sections, counts, verdicts), that it fetches and runs nothing, and that no
hostile string from a device, a file or a signature file becomes markup (the DOM is checked with
html.parser), while its text reads back as shown."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace

import pytest
from html_dom import Dom, parse
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from report_samples import (
    BIDI,
    ESC,
    FORMULA,
    LONG,
    NEWLINE,
    PHONE,
    finding,
    make_mdm_report,
    make_report,
    render,
    with_inventory,
)

from scanner.formats import FORMATS, load_format
from scanner.formats.html import CSP, STYLE, shown, signature_digest, write_html
from scanner.model import (
    App,
    DeviceInfo,
    DeviceResult,
    NotChecked,
    PolicyRef,
    Scope,
    SignatureFile,
    Transport,
    device_verdict,
)

# Markup, attribute and URL injection, on top of the terminal's hostile strings (report_samples).
MARKUP = (
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' onmouseover='alert(1)' x='",
    "</style><script>alert(1)</script><style>",
    "</title></head><body><iframe src=//evil.example>",
    "<!-- --><![CDATA[x]]><?php ?>",
    "&amp;&lt;&#x3c;&#60;",
    "javascript:alert(1)",
    "<svg onload=alert(1)><rect/></svg>",
    "<a href='https://evil.example'>click</a>",
    "<meta http-equiv=refresh content='0;url=https://evil.example'>",
    "<link rel=stylesheet href=https://evil.example/x.css>",
    "<base href=https://evil.example/>",
)
UNICODE = ("微信 WeChat", "\x00nul", "\udc80lone surrogate", "\ufffenon\ufdd0character", "\u2028line sep",
           "\u200bzero\u200dwidth", "\x85c1\x9bcsi")
HOSTILE = (ESC, BIDI, NEWLINE, FORMULA, LONG, *MARKUP, *UNICODE)


def pairs(dl) -> dict[str, str]:
    """A <dl>'s terms and their descriptions."""
    return dict(zip([dt.text for dt in dl.find_all("dt")], [dd.text for dd in dl.find_all("dd")], strict=True))


def html_of(report) -> str:
    return render(write_html, report)


def dom_of(report) -> tuple[str, Dom]:
    text = html_of(report)
    return text, parse(text)


# --- the page: self-contained, nothing fetched, nothing run ----------------------------------------------


def test_the_page_is_one_ascii_file_that_fetches_and_runs_nothing():
    text, dom = dom_of(with_inventory(make_report()))
    assert text.isascii()
    assert dom.declarations == ["DOCTYPE html"] and dom.comments == []
    head = dom.find("head")
    assert head.find("meta", charset="utf-8")
    csp = head.find("meta", http_equiv="Content-Security-Policy").attrs["content"]
    assert csp == CSP
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'" and directives["base-uri"] == "'none'"
    assert directives["form-action"] == "'none'" and directives["script-src"] == "'none'"
    # The one <style> is allowed by its hash, and it is that style.
    [style] = dom.find_all("style")
    digest = base64.b64encode(hashlib.sha256(style.text.encode()).digest()).decode()
    assert style.text == STYLE and directives["style-src"] == f"'sha256-{digest}'"
    assert "url(" not in STYLE and "@import" not in STYLE and "@font-face" not in STYLE
    # No script, no frame, no object, no form, no image or font, no style attribute, no event handler.
    tags = {e.tag for e in dom.elements}
    assert not tags & {"script", "iframe", "frame", "object", "embed", "img", "link", "form", "input", "base",
                       "video", "audio", "source", "image", "use", "foreignobject"}
    for e in dom.elements:
        assert not any(k.startswith("on") or k in ("style", "src", "srcset", "action", "formaction", "xlink:href")
                       for k in e.attrs), e
    # The only links are to the page's own anchors, and each names an element that exists.
    ids = {e.attrs["id"] for e in dom.elements if "id" in e.attrs}
    links = [e.attrs["href"] for e in dom.find_all("a")]
    assert links and all(href.startswith("#") and href[1:] in ids for href in links)
    assert len(ids) == sum("id" in e.attrs for e in dom.elements)  # ids are unique


def test_the_page_prints_on_a4_and_letter():
    assert "@page{margin:" in STYLE and "size:" not in STYLE.split("@page", 1)[1].split("}", 1)[0]  # the paper's own size
    assert "@media print{" in STYLE and "break-inside:avoid" in STYLE and "thead{display:table-header-group}" in STYLE
    assert "print-color-adjust:exact" in STYLE  # verdict colours survive "no background graphics"
    body = STYLE.split("@media print{", 1)[1]
    assert "max-width:none" in body  # the page's width, whichever paper


# --- structure -------------------------------------------------------------------------------------------


def test_header_says_who_where_when_with_what_and_under_which_policies():
    report = replace(make_report(), host="desk-07", user="alice")
    _, dom = dom_of(report)
    header = dom.find("header", id="top")
    meta = pairs(header.find("dl"))
    assert meta["Run by"] == "alice on desk-07"
    assert meta["When"].startswith("2025-03-01 09:30:00 UTC to 2025-03-01 09:30:02 UTC")
    assert meta["Tool"] == "scanner 0.1.0"
    assert signature_digest(report.signature_files) in meta["Signature data"]
    assert meta["Signature data"].startswith("2 files (1 catalog file, 1 policy file)")
    assert meta["Inputs"] == "phone.txt" + FORMULA
    assert "exit code 5" in header.find("p", cls="verdict-line").text
    assert "FINDINGS, NOT FULLY READ" in header.find("p", cls="verdict-line").text
    policies = header.find("table").rows()
    assert [r[0].split("Executive")[0].split("No TikTok")[0] for r in policies] == ["us-eo-13971",
                                                                                   "us-no-tiktok-gov-devices"]
    assert policies[0][1].startswith("revoked") and "Revoked by EO 14034" in policies[0][1]
    assert policies[1][1] == "in-force" and policies[0][3] == "8"
    assert "a" * 64 in policies[0][0]  # the policy file's hash


def test_header_says_what_it_does_not_know_and_cites_a_policy():
    cited = PolicyRef(id="p", title="T", status="in-force", status_note=None, signed="2023-01-01", source="x.toml",
                      sha256="e" * 64, entries=1, citation="Pub. L. 117-328, div. R")
    own = SignatureFile("my/policies/p.toml", "f" * 64, "policy")
    _, dom = dom_of(make_report(CLEAN_ONLY, policies=(cited,), signature_files=(own,)))
    meta = dom.find("header", id="top").find("dl").text
    assert "unknown user on unknown host" in meta
    assert "1 of them your own" in meta and "my/policies/p.toml" in meta and "f" * 64 in meta
    assert dom.find("header", id="top").find("table").rows()[0][2] == "Pub. L. 117-328, div. R; signed 2023-01-01"


CLEAN_ONLY = DeviceResult(device=DeviceInfo("android", "CLEAN01", model="Pixel 7", source="adb"), status="complete",
                          reason=None, message=None, coverage=(Scope("user 0", True, apps=1),), findings=(),
                          app_count=1)


def test_summary_counts_devices_by_verdict_and_findings_by_app_and_policy():
    report = make_report()
    _, dom = dom_of(report)
    summary = dom.find("section", id="summary")
    figures = {f.find("span").text: f.find("b").text for f in summary.find_all("div", cls="figure")}
    assert figures["devices scanned"] == "4" and figures["findings"] == "8" and figures["prohibited"] == "6"
    assert figures["for review"] == "2" and figures["devices not fully read"] == "2" and figures["apps read"] == "9"
    assert figures["installed apps found"] == "8"  # WeChat of the owner and of the work profile are two apps
    one_app = replace(PHONE, findings=(*PHONE.findings, finding(PHONE.findings[0].app, rule="us-eo-13971/x",
                                                                 listed="Weixin Pay")))
    _, twice = dom_of(make_report(one_app))
    figures = {f.find("span").text: f.find("b").text for f in twice.find_all("div", cls="figure")}
    assert figures["findings"] == "6" and figures["installed apps found"] == "5"  # one app under two entries: one app
    by_verdict = {tr.attrs["data-verdict"]: tr.find_all("td")[2].text for tr in summary.find("div", id="by-verdict")
                  .find("tbody").find_all("tr")}
    expected: dict[str, str] = {}
    for r in report.results:
        v = device_verdict(r, report.fail_on)
        expected[v] = str(int(expected.get(v, "0")) + 1)
    assert by_verdict == expected == {"findings": "1", "findings-incomplete": "1", "failed": "1", "clean": "1"}
    assert list(by_verdict) == ["findings", "findings-incomplete", "failed", "clean"]  # most urgent first
    # One stacked bar, a part per verdict, in proportion.
    stack = summary.find("div", id="by-verdict").find("svg", cls="stack")
    parts = [r for r in stack.find_all("rect") if "track" not in r.classes]
    assert [float(r.attrs["width"]) for r in parts] == [25.0] * 4
    apps = {row[0].split("prohibited")[0].split("review")[0].strip(): row[2:] for row in
            summary.find("div", id="by-app").find("table").rows()}
    assert apps == {"WeChat": ["2", "4"], "QQ": ["1", "2"], "TikTok": ["1", "1"], "Weixin": ["1", "1"]}
    policies = summary.find("div", id="by-policy").find("table").rows()
    assert [[r[0].split()[0], *r[2:]] for r in policies] == [["us-eo-13971", "5", "2", "2"],
                                                              ["us-no-tiktok-gov-devices", "1", "0", "1"]]


def test_a_card_per_device_with_identity_verdict_findings_and_what_to_do():
    report = make_report()
    _, dom = dom_of(report)
    index = dom.find("section", id="devices").find("table", cls="index").rows()
    assert [r[0] for r in index] == ["1", "2", "3", "4"]
    cards = dom.find_all("article", cls="device")
    assert [c.attrs["data-verdict"] for c in cards] == [device_verdict(r, report.fail_on) for r in report.results]
    assert [c.attrs["id"] for c in cards] == ["device-1", "device-2", "device-3", "device-4"]
    phone, iphone, failed, clean = cards
    # Findings: a row per installed app, most severe first, with every entry it meets and the evidence level.
    rows = phone.find("table", cls="findings").rows()
    assert len(rows) == 5 and [r[0] for r in rows] == ["prohibited"] * 4 + ["review"]
    assert "Findings: 5 installed apps, 5 findings" in phone.text
    assert {r[4] for r in rows} == {"identifier", "identifier; identifier reported, not confirmed"}
    # One app under two entries (the iPhone's WeChat extension and team-id lead are two apps; make one app twice).
    twice = replace(PHONE, findings=(*PHONE.findings, finding(PHONE.findings[0].app, rule="us-eo-13971/weixin",
                                                              listed="Weixin", severity="review")))
    _, dom2 = dom_of(make_report(twice))
    table = dom2.find("article", cls="device").find("table", cls="findings")
    assert len(table.rows()) == 5 and "Findings: 5 installed apps, 6 findings" in dom2.find("article").text
    [wechat] = [tr for tr in table.find("tbody").find_all("tr") if tr.find_all("td")[1].text.startswith(
        "com.tencent.mm") and tr.find_all("td")[2].text == "0"]
    entries = wechat.find("ul", cls="entries").find_all("li")
    assert [li.find("b").text for li in entries] == ["WeChat Pay", "Weixin"]
    assert wechat.find_all("td")[0].text == "prohibited" and entries[1].find("span", cls="badge").text == "review"
    assert pairs(phone.find("dl")) == {"platform": "Android", "model": shown(ESC), "OS": "14", "name": shown(BIDI),
                                       "serial": "1A2B3C4D", "source": "adb"}
    assert pairs(iphone.find("dl"))["UDID"] == "00008110-001A"  # an iPhone read live is named by its UDID
    # What could not be read, and what to do.
    todo = iphone.find("div", cls="todo")
    assert "bad-lines" in todo.text and shown("line 7 could not be read\x1b]0;pwned\x07") in todo.text
    coverage = iphone.find("table", cls="coverage").rows()
    assert coverage == [["apps", "read", "3", ""], ["records", "NOT READ", "", "refused\\r\\nby device"]]
    assert "Problems: 12 (2 shown)" in iphone.text
    assert "unauthorized" in failed.find("div", cls="todo").text
    assert "Unlock the phone" in failed.find("div", cls="todo").text
    assert "nothing could be read; this device is not clean" in failed.text
    assert not clean.find_all("div", cls="todo") and not clean.find_all("table", cls="findings")
    assert "nothing listed in the 1 app read" in clean.text
    # No inventory unless asked for.
    assert not dom.find_all("table", cls="inventory")


def test_a_problem_that_details_an_unread_part_is_said_once_beside_it():
    refused = "user 10 (Work profile): refused: 'Shell does not have permission to access user 10'"
    result = replace(CLEAN_ONLY, status="partial", reason="user-refused", message="User 10 could not be read",
                     coverage=(Scope("user 0", True, apps=1), Scope("user 10 (Work profile)", False, reason="refused")),
                     problems=(refused, "line 3: " + ESC, refused), problem_count=4)
    _, dom = dom_of(make_report(result))
    card = dom.find("article", cls="device")
    rows = card.find("table", cls="coverage").rows()
    assert rows[1] == ["user 10 (Work profile)", "NOT READ", "",
                       "refused'Shell does not have permission to access user 10'"]
    problems = [li.text for li in card.find("ul", cls="problems").find_all("li")]
    assert problems == [shown("line 3: " + ESC), refused]  # the same text again is another problem: kept
    assert "Problems: 3 (2 shown)" in card.text


def test_the_inventory_is_every_app_read_when_asked_for():
    report = with_inventory(make_report())
    _, dom = dom_of(report)
    cards = dom.find_all("article", cls="device")
    for card, result in zip(cards, report.results, strict=True):
        if result.apps:
            rows = card.find("table", cls="inventory").rows()
            assert [r[0] for r in rows] == [shown(a.id) for a in result.apps]
        else:
            assert "Apps read: none" in card.text
    assert "every app read is listed under its device" in dom.find("header", id="top").text


def test_mdm_report_shows_identity_evidence_accepted_scope_max_age_and_what_was_not_checked():
    _, dom = dom_of(make_mdm_report())
    meta = dom.find("header", id="top").find("dl").text
    assert "--accept-scope mdm" in meta and "--max-age 30" in meta
    phone, aggregate = dom.find_all("article", cls="device")
    identity = pairs(phone.find("dl"))
    assert identity["device id"] == "Intune id 2f6c0a" and identity["source"] == "AppInvRawData.csv"
    assert list(identity)[-6:] == ["device id", "serial", "user", "mdm id", "source", "inventoried"]
    assert identity["serial"] == shown("R58N" + ESC) and identity["user"] == shown("sam@example.com" + BIDI)
    assert identity["mdm id"] == "2f6c0a" and identity["inventoried"] == "2025-02-20 08:15:00 UTC"
    assert [r[1] for r in phone.find("table", cls="coverage").rows()] == ["read", "accepted"]
    assert {r[4] for r in phone.find("table", cls="findings").rows()} == {"display name only"}
    assert aggregate.find("table", cls="findings").rows()[0][4] == "aggregate count: on 3 devices, none named"
    section = dom.find("section", id="not-checked")
    rows = section.find("table").rows()
    assert len(rows) == 2 and rows[0][1] == "windows" and rows[0][2] == "812" and rows[1][2] == "97"
    assert shown("MBP " + ESC) in rows[1][0] and shown("5CG2" + BIDI) in rows[1][0]
    assert "2 devices the inputs list are not a phone or tablet" in section.text
    assert dom.find("section", id="summary").find_all("div", cls="figure")[-1].text == "2not checked"


def test_nothing_scanned_and_an_unanswered_transport_are_never_clean():
    down = Transport("ios", "usbmux", "/var/run/usbmuxd", False, "usbmuxd is not running: start it")
    _, dom = dom_of(make_report(CLEAN_ONLY, transports=(down,)))
    assert "NOT FULLY READ" in dom.find("p", cls="verdict-line").text
    todo = dom.find("section", id="summary").find("div", cls="todo").text
    assert "iOS devices were not scanned: usbmux did not answer" in todo and "start it" in todo
    report = replace(make_report(CLEAN_ONLY), results=())
    _, dom = dom_of(report)
    assert "exit code 4" in dom.find("p", cls="verdict-line").text
    assert "Nothing was scanned" in dom.find("section", id="summary").text
    assert not dom.find_all("article")


def test_the_format_is_registered_after_sarif():
    assert list(FORMATS)[:5] == ["table", "json", "csv", "sarif", "html"]
    assert load_format("html").write is not None and load_format("html").name == "html"


# --- hostile input ----------------------------------------------------------------------------------------


def build_hostile(pick):
    """A report with `pick(i)` in every place a device, an input or a signature file can put text."""
    n = iter(range(10_000))

    def s() -> str:
        return pick(next(n))

    app = App("android", s(), name=s(), version=s(), build=s(), installer=s(), user=0, path=s())
    other = App("ios", s(), name=s(), version=s(), team_id=s(), state="offloaded")
    count = App("android", s(), name=s(), devices=4)
    pid = s()
    f1 = finding(app, listed=s(), catalog_name=s(), identifier=s(), policy=pid, policy_status=s(), rule=s(),
                 edition=s())
    f2 = finding(other, listed=s(), catalog_name=s(), identifier=s(), relation="feature-of", severity="review")
    f3 = finding(count, listed=s(), catalog_name=s(), identifier=s(), match="name", confidence="reported")
    device = DeviceInfo("android", s(), model=s(), os_version=s(), name=s(), source=s(), transport=s(),
                        identity=((s(), s()), (s(), s())))
    result = DeviceResult(device=device, status="partial", reason=s(), message=s(),
                          coverage=(Scope(s(), True, reason=s(), apps=2), Scope(s(), False, reason=s())),
                          findings=(f1, f2, f3), app_count=3, problems=(s(), s()), problem_count=5,
                          apps=(app, other, count))
    failed = DeviceResult(device=DeviceInfo(None, None, source=s()), status="failed", reason=s(), message=s(),
                          coverage=(), findings=(), app_count=0, apps=())
    policy = PolicyRef(id=pid, title=s(), status=s(), status_note=s(), signed=s(), source=s(), sha256=s(), entries=3,
                       citation=s())
    files = (SignatureFile(s(), s(), "policy"), SignatureFile("signatures/catalog/x.toml", "0" * 64, "app"))
    desk = NotChecked(DeviceInfo(s(), s(), name=s(), source=s(), identity=((s(), s()),)), 7, s())
    down = Transport("ios", s(), s(), False, s())
    return make_report(result, failed, policies=(policy,), signature_files=files, inputs=(s(), s()),
                       not_checked=(desk,), transports=(down,), host=s(), user=s(), version=s(),
                       inventory_included=True)


def _texts(dom: Dom) -> str:
    return dom.root.text


@pytest.mark.parametrize("hostile", HOSTILE, ids=lambda h: repr(h[:24]))
def test_no_hostile_string_becomes_markup_and_its_text_reads_back(hostile):
    places = 200
    hostile_dom = parse(html_of(build_hostile(lambda i: hostile + f" #{i}")))
    twin_dom = parse(html_of(build_hostile(lambda i: f"plain #{i}")))
    assert hostile_dom.shape() == twin_dom.shape()  # no element, attribute or value came from the input
    assert hostile_dom.comments == [] and hostile_dom.declarations == ["DOCTYPE html"]
    text = _texts(hostile_dom)
    found = sum(f"{shown(hostile)} #{i}" in text for i in range(places))
    assert found >= 50  # every place that shows text shows it whole, escapes visible
    if shown(hostile) == hostile:  # nothing invisible in it: the text reads back exactly
        assert hostile in text


def test_the_hostile_samples_of_the_other_formats_are_escaped_too():
    text, dom = dom_of(with_inventory(make_report()))
    assert "\x1b" not in text and "\u202e" not in text
    body = _texts(dom)
    for value in (ESC, BIDI, NEWLINE, FORMULA, LONG):
        assert shown(value) in body
    assert shown(ESC) == "\\x1b[31mred\\x1b[0m" and shown(BIDI) == "a\\u202eevil"


OWN_WORDS = {"in-force", "revoked", "superseded", "proposed", "expired", "internal", "complete", "partial", "failed",
             "prohibited", "review", "installed", "clean", "findings", "findings-incomplete", "incomplete",
             "identifier", "name", "count", "confirmed", "reported"}
_any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(_any_text, min_size=1, max_size=8))
def test_property_any_text_anywhere_is_text(values):
    # A word the page itself knows (a policy status such as "internal") rightly gets its own class.
    assume(not set(values) & OWN_WORDS)
    strings = tuple(values[i % len(values)] for i in range(200))

    def pick(i: int) -> str:
        return strings[i]

    # Plain words in the same order as the strings (the page sorts some rows by app id or name).
    words = {s: f"w{j:04d}" for j, s in enumerate(sorted(set(strings)))}
    page = html_of(build_hostile(pick))
    assert page.isascii()
    dom = parse(page)
    twin = parse(html_of(build_hostile(lambda i: words[strings[i]])))
    assert dom.shape() == twin.shape()
    body = _texts(dom)
    for value in dict.fromkeys(strings):
        assert shown(value) in body
