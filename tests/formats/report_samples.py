"""Reports for the format tests, built by hand from the model, with hostile strings where a device or a
file could put them: shared by tests/formats/test_*.py.
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

from scanner.model import (
    MDM_SCOPE,
    App,
    DeviceInfo,
    DeviceResult,
    Finding,
    NotChecked,
    PolicyRef,
    Report,
    Scope,
    SignatureFile,
)

ESC = "\x1b[31mred\x1b[0m"
BIDI = "a\u202eevil"
NEWLINE = "line1\nline2"
LONG = "N" * 10_000
FORMULA = "=cmd|' /C calc'!A0"

EO = PolicyRef(
    id="us-eo-13971",
    title="Executive Order 13971",
    status="revoked",
    status_note="Revoked by EO 14034 (86 FR 31423, 2021-06-09).",
    signed="2021-01-05",
    source="signatures/policies/us-eo-13971.toml",
    sha256="a" * 64,
    entries=8,
)
TIKTOK = PolicyRef(
    id="us-no-tiktok-gov-devices",
    title="No TikTok on Government Devices Act",
    status="in-force",
    status_note=None,
    signed="2022-12-29",
    source="signatures/policies/us-no-tiktok-gov-devices.toml",
    sha256="b" * 64,
    entries=1,
)


def finding(app: App, **kw) -> Finding:
    base = dict(
        app=app,
        policy="us-eo-13971",
        policy_status="revoked",
        rule="us-eo-13971/wechat-pay",
        listed="WeChat Pay",
        relation="app",
        catalog_app="wechat",
        catalog_name="WeChat",
        match="exact",
        identifier="com.tencent.mm",
        confidence="confirmed",
        severity="prohibited",
        edition="primary",
    )
    base.update(kw)
    return Finding(**base)


# Device 1: complete, with every relation and match kind and hostile values.
WECHAT = App("android", "com.tencent.mm", name="WeChat", version="8.0.47", build="2540", user=0)
WECHAT_WORK = App("android", "com.tencent.mm", name="WeChat", version="8.0.47", user=10, state="disabled")
HOSTILE = App("android", ESC, name=LONG, version=NEWLINE, user=0)
FORMULA_APP = App("android", "com.tencent.mobileqq", name=FORMULA, version="-1", user=0)
BIDI_APP = App("android", BIDI, name=NEWLINE, user=0, state="uninstalled-data-kept")

F_EXACT = finding(WECHAT)
F_FEATURE = finding(
    WECHAT_WORK, rule="us-eo-13971/wechat-pay", listed="WeChat Pay", relation="feature-of", confidence="reported"
)
F_HOSTILE = finding(HOSTILE, rule="us-eo-13971/qq-wallet", listed="QQ Wallet", catalog_app="qq", catalog_name="QQ",
                    identifier=ESC)
F_FORMULA = finding(FORMULA_APP, rule="us-eo-13971/tencent-qq", listed="Tencent QQ", catalog_app="qq",
                    catalog_name="QQ", identifier="com.tencent.mobileqq")
F_RELATED = finding(BIDI_APP, rule="us-eo-13971/wechat-pay", relation="related", severity="review",
                    catalog_app="weixin", catalog_name="Weixin")

PHONE = DeviceResult(
    device=DeviceInfo("android", "1A2B3C4D", model=ESC, os_version="14", name=BIDI, source="adb"),
    status="complete",
    reason=None,
    message=None,
    coverage=(Scope("user 0", True, apps=3), Scope("user 10 (Work profile)", True, apps=2)),
    findings=(F_EXACT, F_FEATURE, F_HOSTILE, F_FORMULA, F_RELATED),
    app_count=5,
)

# Device 2: an iPhone with an extension and a team-id match, partial (a refused scope).
WEWORK_EXT = App("ios", "com.tencent.xin.sharetimeline", name="WeChat Share", team_id="88L2Q4487U")
TENCENT_OTHER = App("ios", "com.tencent.other", name="Tencent Other", team_id="88L2Q4487U", state="offloaded")
F_EXT = finding(WEWORK_EXT, rule="us-eo-13971/wechat-pay", match="extension", identifier="com.tencent.xin",
                edition="ios")
F_TEAM = finding(TENCENT_OTHER, rule="us-eo-13971/wechat-pay", relation="related", match="team-id",
                 identifier="88L2Q4487U", severity="review", edition=None)
F_TIKTOK = finding(App("ios", "com.zhiliaoapp.musically", name="TikTok"), policy="us-no-tiktok-gov-devices",
                   policy_status="in-force", rule="us-no-tiktok-gov-devices/tiktok", listed="TikTok",
                   catalog_app="tiktok", catalog_name="TikTok", identifier="com.zhiliaoapp.musically")
IPHONE = DeviceResult(
    device=DeviceInfo("ios", "00008110-001A", model="iPhone14,2", os_version="17.4", name="Sam's iPhone",
                      source="usbmux"),
    status="partial",
    reason="bad-lines",
    message="line 7 could not be read\x1b]0;pwned\x07",
    coverage=(Scope("apps", True, apps=3), Scope("records", False, reason="refused\r\nby device")),
    findings=(F_EXT, F_TEAM, F_TIKTOK),
    app_count=3,
    problems=("line 7: not valid UTF-8 \x1b[2J", NEWLINE),
    problem_count=12,
)

# Device 3: failed, nothing read.
FAILED = DeviceResult(
    device=DeviceInfo(None, None, source="export\u202e.csv"),
    status="failed",
    reason="unauthorized",
    message="Unlock the phone and accept the USB debugging prompt",
    coverage=(),
    findings=(),
    app_count=0,
)

# Device 4: complete and clean.
CLEAN = DeviceResult(
    device=DeviceInfo("android", "CLEAN01", model="Pixel 7", os_version="14", source="adb"),
    status="complete",
    reason=None,
    message=None,
    coverage=(Scope("user 0", True, apps=1),),
    findings=(),
    app_count=1,
)

STARTED = datetime(2025, 3, 1, 9, 30, 0, 125000, tzinfo=UTC)
FINISHED = datetime(2025, 3, 1, 9, 30, 2, tzinfo=UTC)


# --- an MDM export: a name match, an aggregate count, device identity and date, computers not checked ------

INVENTORIED = datetime(2025, 2, 20, 8, 15, 0, tzinfo=UTC)
ACCEPTED = "accepted with --accept-scope mdm: a personal device, so Intune reports its managed apps only"
WEIXIN_NAME = App("android", "微信", name="微信", version="8.0.47", evidence="name")
NAME_HOSTILE = App("ios", ESC + "WeChat", name=ESC + "WeChat", evidence="name")
F_NAME = finding(WEIXIN_NAME, match="name", identifier="微信", catalog_app="weixin", catalog_name="Weixin")
F_NAME_HOSTILE = finding(NAME_HOSTILE, match="name", identifier="WeChat", edition=None)
F_COUNT = finding(App("android", "com.tencent.mm", name="WeChat", version="8.0.44", devices=3))

MDM_PHONE = DeviceResult(
    device=DeviceInfo("android", "Intune id 2f6c0a", model="Pixel 8", os_version="14", name="Sam's Pixel",
                      source="AppInvRawData.csv",
                      identity=(("serial", "R58N" + ESC), ("user", "sam@example.com" + BIDI), ("mdm id", "2f6c0a")),
                      inventoried=INVENTORIED),
    status="complete",
    reason=None,
    message=None,
    coverage=(Scope("records", True, apps=2), Scope(MDM_SCOPE, True, reason=ACCEPTED)),
    findings=(F_NAME, F_NAME_HOSTILE),
    app_count=2,
)
AGGREGATE = DeviceResult(
    device=DeviceInfo(None, None, name="the tenant's aggregate", source="AppInvAggregate.csv"),
    status="partial",
    reason="aggregate",
    message="AppInvAggregate.csv counts apps, not devices: export AppInvRawData to see which devices hold them",
    coverage=(Scope("records", True, apps=1), Scope("devices", False, reason="an aggregate names no devices")),
    findings=(F_COUNT,),
    app_count=1,
)


def desktop(n: int, name: str = "LT-0042", rows: int = 812, platform: str = "windows") -> NotChecked:
    what = {"windows": "Windows", "macos": "macOS"}.get(platform, platform)
    device = DeviceInfo(platform, f"Intune id d{n:05d}", name=name, source="AppInvRawData.csv",
                        identity=(("serial", f"5CG{n}" + BIDI), ("user", ESC)))
    return NotChecked(device, rows, f"AppInvRawData.csv, device {name}: a {what} computer, and scanner checks phones "
                                    f"and tablets: its {rows} app rows were not checked")


NOT_CHECKED = (desktop(1), desktop(2, name="MBP " + ESC, rows=97, platform="macos"))


def make_mdm_report(*results: DeviceResult, not_checked: tuple[NotChecked, ...] = NOT_CHECKED, **kw) -> Report:
    base = {"results": results or (MDM_PHONE, AGGREGATE), "inputs": ("AppInvRawData.csv", "AppInvAggregate.csv"),
            "not_checked": not_checked, "accepted_scopes": ("mdm",), "max_age": 30}
    base.update(kw)
    return make_report(**base)


def make_report(*results: DeviceResult, **kw) -> Report:
    base = dict(
        tool="scanner",
        version="0.1.0",
        started=STARTED,
        finished=FINISHED,
        policies=(EO, TIKTOK),
        signature_files=(SignatureFile("signatures/policies/us-eo-13971.toml", "c" * 64, "policy"),
                         SignatureFile("signatures/catalog/wechat.toml", "d" * 64, "app")),
        results=results or (PHONE, IPHONE, FAILED, CLEAN),
        inputs=("phone.txt", FORMULA),
    )
    base.update(kw)
    return Report(**base)


def with_inventory(report: Report) -> Report:
    inventories = {
        PHONE.device: (WECHAT, WECHAT_WORK, HOSTILE, FORMULA_APP, BIDI_APP),
        IPHONE.device: (WEWORK_EXT, TENCENT_OTHER, F_TIKTOK.app),
        FAILED.device: (),
        CLEAN.device: (App("android", "com.android.chrome", name="Chrome", system=True, user=0),),
        MDM_PHONE.device: (WEIXIN_NAME, NAME_HOSTILE),
        AGGREGATE.device: (F_COUNT.app,),
    }
    results = tuple(replace(r, apps=inventories[r.device]) for r in report.results)
    return replace(report, results=results, inventory_included=True)


def render(writer, report: Report, **kw) -> str:
    out = io.StringIO()
    writer(report, out, **kw)
    return out.getvalue()
