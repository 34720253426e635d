"""The bundled catalog and policies against the research they were written from.

The expected values come from tests/data/app-identifiers.md (a verbatim copy of the research
notes), parsed here, so a row added to the research and not to the catalog fails a test.
"""

from __future__ import annotations

import re
import tomllib
from collections import defaultdict
from pathlib import Path

import pytest

from scanner.matcher import Matcher
from scanner.model import App
from scanner.signatures import bundled_dir, load_signatures

RESEARCH = Path(__file__).parent / "data" / "app-identifiers.md"
EO = "us-eo-13971"
TIKTOK = "us-no-tiktok-gov-devices"

NAMED_ROLES = {"named": "app", "host of a named feature": "feature-of"}
RELATED_ROLE = "related (same maker, not named)"


def parse_tables(text: str) -> dict[str, list[dict[str, str]]]:
    """Every markdown table, by the `## ` heading it sits under; cells stripped of backticks."""
    tables: dict[str, list[dict[str, str]]] = {}
    section = None
    header: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
            tables[section] = []
            header = None
        elif section and line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if header is None:
                header = cells
            elif not all(re.fullmatch(r"-+", c) for c in cells):
                row = dict(zip(header, cells, strict=True))
                if "id" in row:
                    row["id"] = row["id"].strip("`")
                tables[section].append(row)
    return tables


TABLES = parse_tables(RESEARCH.read_text(encoding="utf-8"))
# The sections of the EO 13971 apps are the tables with a "role" column; their heading is the
# name the order lists ("WeChat Pay", "QQ Wallet", ...).
EO_SECTIONS = {name: rows for name, rows in TABLES.items() if rows and "role" in rows[0]}
DECOY_ROWS = next(rows for name, rows in TABLES.items() if name.startswith("Decoys"))
TIKTOK_ROWS = next(rows for name, rows in TABLES.items() if name.startswith("TikTok"))


def _eo_rows() -> list[tuple[str, dict[str, str]]]:
    """(section, row) for every identifier row; the VMate "(none found)" row is not one."""
    return [
        (section, row)
        for section, rows in EO_SECTIONS.items()
        for row in rows
        if not row["id"].startswith("(")
    ]


EO_ROWS = _eo_rows()


def _by_identifier(role_filter) -> dict[tuple[str, str], list[tuple[str, dict[str, str]]]]:
    found: dict[tuple[str, str], list[tuple[str, dict[str, str]]]] = defaultdict(list)
    for section, row in EO_ROWS:
        if role_filter(row["role"]):
            found[(row["platform"], row["id"])].append((section, row))
    return dict(found)


NAMED = _by_identifier(lambda role: role in NAMED_ROLES)
RELATED = _by_identifier(lambda role: role == RELATED_ROLE)


def tiktok_confidence(cell: str) -> str:
    """'confirmed (seen in real device lists)' -> 'confirmed'."""
    return cell.split(" ", 1)[0]


@pytest.fixture(scope="module")
def sigs():
    return load_signatures()


@pytest.fixture(scope="module")
def eo(sigs):
    return Matcher(sigs, [EO])


@pytest.fixture(scope="module")
def tiktok(sigs):
    return Matcher(sigs, [TIKTOK])


@pytest.fixture(scope="module")
def everything(sigs):
    return Matcher(sigs, ["all"])


def ident(key: tuple[str, str]) -> str:
    return f"{key[0]}:{key[1]}"


# --- the research file itself ------------------------------------------------------------


def test_research_copy_parses_into_the_expected_tables():
    assert set(EO_SECTIONS) == {
        "Alipay", "WeChat Pay", "Tencent QQ", "QQ Wallet", "CamScanner", "SHAREit", "VMate", "WPS Office",
    }
    assert len(EO_ROWS) >= 50 and len(NAMED) >= 35 and len(RELATED) >= 7
    assert len(DECOY_ROWS) >= 50 and len(TIKTOK_ROWS) == 5
    assert ("android", "com.tencent.mobileqq") in NAMED and ("ios", "com.tencent.tim") in RELATED


def test_research_copy_matches_shared_original_when_present():
    original = Path(__file__).resolve().parents[2] / "shared" / "research" / "app-identifiers.md"
    if not original.is_file():
        pytest.skip("no ../shared checkout (clean clone)")
    assert RESEARCH.read_bytes() == original.read_bytes()


# --- EO 13971: named, feature host, related ------------------------------------------------


@pytest.mark.parametrize("key", sorted(NAMED), ids=ident)
def test_named_rows_are_prohibited_under_eo_13971(eo, key):
    platform, app_id = key
    rows = NAMED[key]
    findings = eo.match_app(App(platform, app_id))
    expected = {(section, NAMED_ROLES[row["role"]]) for section, row in rows}
    prohibited = {(f.listed, f.relation) for f in findings if f.severity == "prohibited"}
    assert prohibited == expected
    assert len(findings) == len(expected), [f.rule for f in findings]
    for f in findings:
        assert f.policy == EO and f.policy_status == "revoked"
        assert f.match == "exact"
        assert f.identifier == app_id  # the catalog keeps the case of the research
        assert f.confidence == rows[0][1]["confidence"]
        assert f.edition in {row["variant"] for _, row in rows}


def test_qq_meets_both_tencent_qq_and_qq_wallet(eo):
    findings = eo.match_app(App("android", "com.tencent.mobileqq"))
    got = sorted((f.listed, f.relation, f.severity, f.catalog_app, f.rule) for f in findings)
    assert got == [
        ("QQ Wallet", "feature-of", "prohibited", "qq", "us-eo-13971/qq-wallet"),
        ("Tencent QQ", "app", "prohibited", "qq", "us-eo-13971/tencent-qq"),
    ]
    assert {f.explanation for f in findings} == {"QQ Wallet is a feature of Tencent QQ", "Tencent QQ"}


def test_wechat_is_found_as_the_host_of_wechat_pay(eo):
    (f,) = eo.match_app(App("ios", "com.tencent.xin"))
    assert (f.listed, f.relation, f.catalog_app, f.catalog_name) == ("WeChat Pay", "feature-of", "wechat", "WeChat")
    assert f.explanation == "WeChat Pay is a feature of WeChat"


@pytest.mark.parametrize("key", sorted(RELATED), ids=ident)
def test_related_rows_are_review_under_eo_13971(eo, key):
    platform, app_id = key
    rows = RELATED[key]
    findings = eo.match_app(App(platform, app_id))
    assert len(findings) == 1, [f.rule for f in findings]
    (f,) = findings
    assert (f.severity, f.relation, f.match) == ("review", "related", "exact")
    assert f.listed in {section for section, _ in rows}
    assert f.identifier == app_id
    assert f.confidence == rows[0][1]["confidence"]
    assert f.catalog_app not in {"alipay", "wechat", "qq", "camscanner", "shareit", "vmate", "wps-office"}


def test_related_rows_are_not_also_named():
    assert not set(NAMED) & set(RELATED)


# --- decoys and the TikTok policy ----------------------------------------------------------

TIKTOK_KEYS = {(row["platform"], row["id"].lower()) for row in TIKTOK_ROWS}


def reached_by(sigs, policy) -> set[str]:
    """The catalog apps a policy's entries reach: the apps it names, and every app of the makers it names."""
    apps: set[str] = set()
    for entry in policy.entries:
        if entry.maker:
            makers = sigs.reach(entry.maker, entry.affiliates)
            apps |= {a.id for a in sigs.apps.values() if a.maker_id in makers}
        else:
            apps.add(entry.app)
    return apps


def catalog_app_of(sigs, platform: str, app_id: str) -> str | None:
    for app in sigs.apps.values():
        if any(i.platform == platform and i.id.lower() == app_id.lower() for i in app.identifiers):
            return app.id
    return None


@pytest.mark.parametrize("row", DECOY_ROWS, ids=lambda r: f"{r['platform']}:{r['id']}")
def test_decoys_are_not_flagged_by_eo_13971(eo, sigs, row):
    """The decoys of EO 13971 are findings of another policy only where that policy reaches them: a company
    rule (Texas's "Tencent Holdings Ltd.") or an entry naming their app (Ohio names Tencent Video). A decoy
    the catalog does not hold (a look-alike, an OEM helper) is never a finding, under any policy."""
    app = App(row["platform"], row["id"])
    assert eo.match_app(app) == []
    owner = catalog_app_of(sigs, row["platform"], row["id"])
    for policy in sigs.policies.values():
        found = Matcher(sigs, [policy.id]).match_app(app)
        if owner is None or owner not in reached_by(sigs, policy):
            assert found == [], f"{row['id']} flagged under {policy.id}, which does not reach it"
        else:
            assert found, f"{row['id']} ({owner}) not flagged under {policy.id}, which reaches it"


def test_company_rules_reach_the_eo_13971_decoys_the_issue_names(sigs):
    texas = Matcher(sigs, ["us-tx-prohibited-technologies-2023"])
    for platform, app_id in (("android", "com.tencent.wework"), ("android", "com.tencent.ig"),
                             ("android", "com.sohu.inputmethod.sogou")):
        (f,) = texas.match_app(App(platform, app_id))
        assert (f.relation, f.severity, f.listed) == ("maker", "prohibited", "Tencent Holdings Ltd."), f
        assert Matcher(sigs, [EO]).match_app(App(platform, app_id)) == []


@pytest.mark.parametrize("row", TIKTOK_ROWS, ids=lambda r: f"{r['platform']}:{r['id']}")
def test_tiktok_and_douyin_only_under_the_tiktok_policy(eo, tiktok, everything, row):
    app = App(row["platform"], row["id"])
    assert eo.match_app(app) == []
    (f,) = tiktok.match_app(app)
    assert TIKTOK in [g.policy for g in everything.match_app(app)]
    assert (f.listed, f.policy_status, f.match, f.identifier) == ("TikTok", "in-force", "exact", row["id"])
    assert f.confidence == tiktok_confidence(row["confidence"])
    if row["what"].startswith("Douyin"):
        assert (f.catalog_app, f.relation, f.severity) == ("douyin", "related", "review")
    else:
        assert (f.catalog_app, f.relation, f.severity) == ("tiktok", "app", "prohibited")


# --- how identifiers match -----------------------------------------------------------------


def test_matching_ignores_case_but_reports_the_catalog_spelling(eo):
    (f,) = eo.match_app(App("android", "COM.TENCENT.MM"))
    assert (f.catalog_app, f.match, f.identifier) == ("wechat", "exact", "com.tencent.mm")
    assert f.app.id == "COM.TENCENT.MM"
    lower = eo.match_app(App("ios", "com.tencent.mqqi"))
    assert {f.identifier for f in lower} == {"com.tencent.mQQi"}
    assert {f.listed for f in lower} == {"Tencent QQ", "QQ Wallet"}
    (cam,) = eo.match_app(App("ios", "com.intsig.camscannerlite"))
    assert cam.identifier == "com.intsig.CamScannerLite"


def test_ios_app_extensions_match_their_parent(eo):
    (f,) = eo.match_app(App("ios", "com.tencent.xin.widget"))
    assert (f.catalog_app, f.match, f.identifier, f.listed) == ("wechat", "extension", "com.tencent.xin", "WeChat Pay")
    assert f.severity == "prohibited"
    qq = eo.match_app(App("ios", "com.tencent.mqq.notificationservice"))
    assert {(f.match, f.identifier) for f in qq} == {("extension", "com.tencent.mqq")}
    assert len(qq) == 2


def test_android_has_no_extension_matching(eo):
    assert eo.match_app(App("android", "com.tencent.xin.widget")) == []
    assert eo.match_app(App("android", "com.tencent.mm.widget")) == []


@pytest.mark.parametrize("platform", ["android", "ios"])
@pytest.mark.parametrize(
    "app_id",
    ["com.tencent.mmx", "com.tencent", "xcom.tencent.mm", "com.tencent.xinx", "com.tencent.mqq2",
     "tencent.xin", "com.intsig", "cn.wps", "com.alipay", "com.uc.vmat", "com.lenovo", "mm"],
)
def test_no_prefix_or_substring_matching(everything, platform, app_id):
    assert everything.match_app(App(platform, app_id)) == []


# --- Apple team ids ------------------------------------------------------------------------


def test_tencent_team_id_on_an_uncatalogued_app_is_one_finding_per_policy_that_reaches_tencent(sigs, everything):
    """Under an entry that names a Tencent app the team id is a review lead (EO 13971: "same developer as
    WeChat"); under an entry that names Tencent it is a finding at that entry's severity. Once per policy."""
    def reaches(entry) -> bool:
        if entry.maker:
            return "tencent" in sigs.reach(entry.maker, entry.affiliates)
        return sigs.apps[entry.app].maker_id == "tencent"

    by_maker = {p.id for p in sigs.policies.values() if any(e.maker and reaches(e) for e in p.entries)}
    by_app = {p.id for p in sigs.policies.values() if any(e.app and reaches(e) for e in p.entries)}
    assert EO in by_app and EO not in by_maker
    found = everything.match_app(App("ios", "com.tencent.brandnew", team_id="88L2Q4487U"))
    assert sorted(f.policy for f in found) == sorted(by_maker | by_app)
    for f in found:
        assert (f.match, f.identifier, f.confidence) == ("team-id", "88L2Q4487U", "reported")
        if f.policy in by_maker:
            assert (f.relation, f.catalog_app, f.catalog_name) == ("maker", "tencent", "Tencent Holdings Ltd.")
            entry = next(e for e in sigs.policies[f.policy].entries if e.maker and reaches(e))
            assert f.severity == entry.severity
        else:
            assert (f.severity, f.relation) == ("review", "related")
    (eo,) = [f for f in found if f.policy == EO]
    assert (eo.severity, eo.relation, eo.catalog_app, eo.rule) == ("review", "related", "wechat", f"{EO}/wechat-pay")
    assert eo.explanation == "same developer (88L2Q4487U) as WeChat"


def test_team_id_on_a_catalogued_app_gives_the_ordinary_finding_only(eo, everything):
    (f,) = eo.match_app(App("ios", "com.tencent.xin", team_id="88L2Q4487U"))
    assert (f.match, f.severity, f.listed) == ("exact", "prohibited", "WeChat Pay")
    (ext,) = eo.match_app(App("ios", "com.tencent.xin.widget", team_id="88L2Q4487U"))
    assert ext.match == "extension"
    # Under every policy: an app found by its id is never also a team-id lead.
    assert {f.match for f in everything.match_app(App("ios", "com.tencent.xin", team_id="88L2Q4487U"))} == {"exact"}
    assert {f.match for f in everything.match_app(App("ios", "com.tencent.xin.widget", team_id="88L2Q4487U"))} == \
        {"extension"}


def test_team_ids_do_not_apply_on_android(everything):
    assert everything.match_app(App("android", "com.tencent.brandnew", team_id="88L2Q4487U")) == []


# --- policy metadata ----------------------------------------------------------------------


def test_eo_13971_metadata(sigs):
    p = sigs.policies[EO]
    assert p.default is True
    assert (p.status, str(p.signed), str(p.status_date), p.citation) == ("revoked", "2021-01-05", "2021-06-09", "86 FR 1249")
    assert "EO 14034" in p.status_note and "86 FR 31423" in p.status_note and "Texas" in p.status_note
    assert p.url.startswith("https://www.federalregister.gov/documents/2021/01/08/2021-00305/")
    listed = {e.listed for e in p.entries if e.severity == "prohibited"}
    assert listed == set(EO_SECTIONS)  # the eight names the order lists, as the research headings
    assert {e.listed for e in p.entries if e.severity == "review"} <= listed
    assert all(e.relation == "related" for e in p.entries if e.severity == "review")
    assert all(e.relation != "related" for e in p.entries if e.severity == "prohibited")


def test_tiktok_policy_metadata(sigs):
    p = sigs.policies[TIKTOK]
    assert p.status == "in-force" and p.default is True  # a federal device with TikTok is never clean by default
    assert str(p.signed) == "2022-12-29"
    assert "Pub. L. 117-328" in p.citation and "M-23-13" in p.citation
    assert "30 days" in p.status_note
    assert {(e.key, e.app, e.relation, e.severity) for e in p.entries} == {
        ("tiktok", "tiktok", "app", "prohibited"),
        ("tiktok-lite", "tiktok-lite", "app", "prohibited"),
        ("douyin", "douyin", "related", "review"),
        ("tiktok-studio", "tiktok-studio", "related", "review"),
        ("tiktok-notes", "tiktok-notes", "related", "review"),
        ("tiktok-now", "tiktok-now", "related", "review"),
    }


# --- the catalog as data ------------------------------------------------------------------


def _catalog_files(kind: str = "catalog") -> dict[str, dict]:
    folder = bundled_dir() / kind
    return {p.name: tomllib.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.toml"))}


def _source_count(sources: list[str]) -> int:
    """How many sources a list names: "3 more file(s) in public source code" is three."""
    return sum(int(m.group(1)) if (m := re.match(r"(\d+) more file\(s\)", s)) else 1 for s in sources)


def test_every_catalog_identifier_has_sources_and_a_known_confidence():
    files = _catalog_files()
    assert len(files) == 74
    for name, data in files.items():
        assert data["kind"] == "app" and f"{data['id']}.toml" == name
        assert data["schema"] == 2 and "team_ids" not in data, name  # team ids live on the makers
        assert data["identifiers"], name
        for i in data["identifiers"] + data.get("certificates", []):
            assert i["confidence"] in ("confirmed", "reported"), (name, i)
            assert i["sources"] and all(s.strip() for s in i["sources"]), (name, i)
            assert not any("no source named" in s for s in i["sources"]), (name, i)
            # confirmed = two or more independent sources; one source is "reported", whatever it claims
            assert i["confidence"] == "reported" or _source_count(i["sources"]) >= 2, (name, i)


def test_every_bundled_maker_is_schema_2_with_sources_and_an_owner_that_is_loaded(sigs):
    files = _catalog_files("makers")
    assert set(files) >= {f"{m}.toml" for m in (
        "tencent", "bytedance", "alibaba-group", "ant-group", "ucweb", "intsig", "smart-media4u", "kingsoft",
        "xiaomi")}
    for name, data in files.items():
        assert data["kind"] == "maker" and data["schema"] == 2 and f"{data['id']}.toml" == name
        assert data["sources"] and not any("no source named" in s for s in data["sources"]), name
    for app in sigs.apps.values():
        assert app.maker_id in sigs.makers, app.id
    # ownership as the research gives it: UCWeb is Alibaba's; Ant Group is tied to Alibaba, not owned by it
    assert sigs.makers["ucweb"].parent == "alibaba-group"
    assert sigs.makers["ant-group"].parent is None
    assert [(r.maker, r.relation) for r in sigs.makers["ant-group"].related] == [("alibaba-group", "affiliate")]
    alibaba = {a.id for a in sigs.apps_of(sigs.reach("alibaba-group"))}
    with_affiliates = {a.id for a in sigs.apps_of(sigs.reach("alibaba-group", affiliates=True))}
    ant = {a.id for a in sigs.apps_of(["ant-group"])}
    assert {"vmate", "uc-browser", "taobao", "dingtalk", "aliexpress"} <= alibaba and not alibaba & ant
    assert {"alipay", "alipay-merchant", "alipay-msp"} <= ant and with_affiliates == alibaba | ant


def test_bundled_policies_name_their_jurisdiction_and_follow_the_id_scheme(sigs):
    legacy = {EO, TIKTOK}
    for name, data in _catalog_files("policies").items():
        assert data["schema"] == 2, name
    for p in sigs.policies.values():
        assert p.jurisdiction is not None, p.id
        assert p.id in legacy or p.id.startswith(p.jurisdiction + "-"), p.id
        assert p.confidence in ("verified", "secondary"), p.id
        assert p.names, p.id
    assert sigs.policies[EO].jurisdiction == sigs.policies[TIKTOK].jurisdiction == "us-fed"
    assert sigs.policies[EO].instrument == "Executive Order 13971"
    assert set(sigs.policies[EO].names) == set(EO_SECTIONS)


def test_no_identifier_is_in_two_catalog_files():
    owner: dict[tuple[str, str], str] = {}
    for name, data in _catalog_files().items():
        for i in data["identifiers"]:
            key = (i["platform"], i["id"].lower())
            assert key not in owner, f"{key} in {owner.get(key)} and {name}"
            owner[key] = name


def test_catalog_holds_exactly_the_research_identifiers(sigs):
    catalog = {
        (i.platform, i.id): (app.id, i) for app in sigs.apps.values() for i in app.identifiers
    }
    research = {(row["platform"], row["id"]) for _, row in EO_ROWS}
    research |= {(row["platform"], row["id"]) for row in TIKTOK_ROWS}
    assert research <= set(catalog)  # exact case, nothing left out (what else the catalog holds: test_policies_in_force)
    for section, row in EO_ROWS:
        _, i = catalog[(row["platform"], row["id"])]
        assert i.confidence == row["confidence"]
        assert list(i.sources) == row["seen in"].split("; ")
    for row in TIKTOK_ROWS:
        _, i = catalog[(row["platform"], row["id"])]
        assert i.confidence == tiktok_confidence(row["confidence"])


def test_apps_features_and_other_facts(sigs):
    apps = sigs.apps
    assert apps["wechat"].features == ("WeChat Pay", "WeChat Pay HK")
    assert apps["qq"].features == ("QQ Wallet",)
    assert {i.platform for i in apps["qq"].identifiers} == {"android", "ios"}
    assert {i.platform for i in apps["vmate"].identifiers} == {"android"}
    assert "iOS" in apps["vmate"].notes
    # Team ids moved from the apps to their makers (schema 2); the facts are the same.
    assert all(not a.team_ids for a in apps.values())
    tencent, kingsoft = sigs.makers["tencent"], sigs.makers["kingsoft"]
    assert [(t.id, t.confidence) for t in tencent.team_ids] == [("88L2Q4487U", "reported"), ("FN2V63AD2J", "reported")]
    assert tencent.team_ids[0].holder == "Tencent Technology (Shenzhen) Company Limited"
    assert "macOS" in tencent.team_ids[1].note and "Shanghai" in tencent.team_ids[1].holder
    assert [t.id for t in kingsoft.team_ids] == ["2G98R5QYU5"] and "macOS" in kingsoft.team_ids[0].note
    assert [t.id for t in sigs.team_ids_of(apps["wechat"])] == ["88L2Q4487U", "FN2V63AD2J"]
    # App ID prefixes from apple-app-site-association files are not team ids (research note B.1).
    every_team = {t.id for m in sigs.makers.values() for t in m.team_ids}
    assert not every_team & {"532LCLCWL8", "8H6B3SFEU4", "T8ALTGMVXN"}
    certs = {a: [(c.algorithm, c.of, c.digest) for c in apps[a].certificates] for a in ("wechat", "qq", "tim")}
    assert certs == {
        "wechat": [("md5", "signer-certificate", "18c867f0717aa67b2ab7347505ba07ed")],
        "qq": [("md5", "signer-certificate", "a6b745bf24a2c277527716f6f36eb68d")],
        "tim": [("md5", "signer-certificate", "775e696d09856872fdd8ab4f3f06b1e0")],
    }
    assert apps["wechat"].certificates[0].confidence == "confirmed"  # three sources in research note B.2
    stores = {a.id: a.app_store_id for a in apps.values() if a.app_store_id}
    assert stores.items() >= {
        "wechat": "414478124", "qq": "444934666", "tim": "1175213887", "alipay": "333206289",
        "camscanner": "388627783", "shareit": "725215120", "wps-office": "1491101673",
    }.items()
