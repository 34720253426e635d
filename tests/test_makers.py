"""Makers (schema 2): company rules reach a maker's apps and its subsidiaries', team ids belong to makers,
and schema-1 files load as they always did.

The companies here are test-local (Acme and its subsidiaries), except where a test is about the bundled
facts (Tencent, Alibaba); decoy apps the bundled catalog does not hold yet are written to tmp_path.
"""

from __future__ import annotations

import io
import json
import textwrap
from pathlib import Path

import jsonschema
import pytest

import scanner
from scanner.formats import FormatOptions, load_format
from scanner.formats.json_report import report_to_dict
from scanner.formats.sarif import report_to_sarif
from scanner.matcher import Matcher
from scanner.model import App
from scanner.signatures import SignatureError, load_signatures

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "docs" / "report-schema.json"


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(*paths) -> list[str]:
    with pytest.raises(SignatureError) as info:
        load_signatures(paths)
    return info.value.problems


def maker(id: str, *, parent: str | None = None, related: str | None = None, team: str | None = None,
          name: str | None = None) -> str:
    text = f'kind = "maker"\nschema = 2\nid = "{id}"\nname = "{name or id.title()}"\nsources = ["test"]\n'
    if parent:
        text += f'parent = "{parent}"\n'
    if related:
        text += f'\n[[related]]\nmaker = "{related}"\nrelation = "affiliate"\nsources = ["test"]\n'
    if team:
        text += f'\n[[team_ids]]\nid = "{team}"\nholder = "{id} holder"\nconfidence = "reported"\nsources = ["test"]\n'
    return text


def app(id: str, maker_id: str, *idents: tuple[str, str], name: str | None = None) -> str:
    text = f'kind = "app"\nschema = 2\nid = "{id}"\nname = "{name or id}"\nmaker = "{maker_id}"\n'
    for platform, ident in idents:
        text += (f'\n[[identifiers]]\nplatform = "{platform}"\nid = "{ident}"\nedition = "primary"\n'
                 'confidence = "confirmed"\nsources = ["one", "two"]\n')
    return text


def policy(id: str, entries: str, *, jurisdiction: str = "us-wy", schema: int = 2) -> str:
    head = (f'kind = "policy"\nschema = {schema}\nid = "{id}"\ntitle = "{id}"\nauthority = "Test"\n'
            'citation = "Test 1"\nsigned = 2025-01-31\nstatus = "in-force"\nurl = "https://example.test/p"\n')
    if schema >= 2:
        head += f'jurisdiction = "{jurisdiction}"\n'
    return head + textwrap.dedent(entries)


def maker_entry(key: str, maker_id: str, *, affiliates: bool | None = None, severity: str = "prohibited",
                listed: str | None = None) -> str:
    text = (f'\n[[entries]]\nkey = "{key}"\nlisted = "{listed or maker_id}"\nmaker = "{maker_id}"\n'
            f'relation = "maker"\nseverity = "{severity}"\n')
    if affiliates is not None:
        text += f"affiliates = {'true' if affiliates else 'false'}\n"
    return text


def app_entry(key: str, app_id: str, *, relation: str = "app", severity: str = "prohibited",
              listed: str | None = None) -> str:
    return (f'\n[[entries]]\nkey = "{key}"\nlisted = "{listed or app_id}"\napp = "{app_id}"\n'
            f'relation = "{relation}"\nseverity = "{severity}"\n')


@pytest.fixture
def acme(tmp_path):
    """Acme Holdings owns Acme Sub, which owns Acme Deep; Partner (with its own subsidiary) is tied to Acme."""
    folder = tmp_path / "sigs"
    write(folder, "makers/acme.toml", maker("acme", team="ACME000001", name="Acme Holdings"))
    write(folder, "makers/acme-sub.toml", maker("acme-sub", parent="acme", team="ACME000002"))
    write(folder, "makers/acme-deep.toml", maker("acme-deep", parent="acme-sub"))
    write(folder, "makers/partner.toml", maker("partner", related="acme", team="PART000001"))
    write(folder, "makers/partner-sub.toml", maker("partner-sub", parent="partner"))
    write(folder, "makers/other.toml", maker("other"))
    write(folder, "catalog/acme-chat.toml", app("acme-chat", "acme", ("android", "com.acme.chat"),
                                                ("ios", "com.acme.chat")))
    write(folder, "catalog/acme-pay.toml", app("acme-pay", "acme-sub", ("android", "com.acmesub.pay")))
    write(folder, "catalog/acme-deep.toml", app("acme-deep-app", "acme-deep", ("ios", "com.acmedeep.app")))
    write(folder, "catalog/partner-app.toml", app("partner-app", "partner", ("android", "com.partner.app")))
    write(folder, "catalog/partner-sub-app.toml", app("partner-sub-app", "partner-sub", ("android", "com.psub.app")))
    write(folder, "catalog/other-app.toml", app("other-app", "other", ("android", "com.other.app")))
    write(folder, "policies/us-wy-acme.toml", policy("us-wy-acme", maker_entry("acme", "acme", listed="Acme Holdings")))
    write(folder, "policies/us-wy-acme-affiliates.toml",
          policy("us-wy-acme-affiliates", maker_entry("acme", "acme", affiliates=True, listed="Acme Holdings")))
    write(folder, "policies/us-vt-acme-sub.toml",
          policy("us-vt-acme-sub", maker_entry("acme-sub", "acme-sub", severity="review"), jurisdiction="us-vt"))
    return folder


ACME_APPS = {("android", "com.acme.chat"): "acme-chat", ("ios", "com.acme.chat"): "acme-chat",
             ("android", "com.acmesub.pay"): "acme-pay", ("ios", "com.acmedeep.app"): "acme-deep-app"}
PARTNER_APPS = {("android", "com.partner.app"): "partner-app", ("android", "com.psub.app"): "partner-sub-app"}


# --- what a maker entry reaches ---------------------------------------------------------------------


def test_a_maker_entry_reaches_every_app_of_the_maker_and_its_subsidiaries(acme):
    sigs = load_signatures([acme])
    m = Matcher(sigs, ["us-wy-acme"])
    for (platform, ident), catalog_app in ACME_APPS.items():
        (f,) = m.match_app(App(platform, ident))
        assert (f.rule, f.listed, f.relation, f.severity, f.match) == (
            "us-wy-acme/acme", "Acme Holdings", "maker", "prohibited", "exact")
        assert (f.catalog_app, f.catalog_name) == (catalog_app, catalog_app)  # the app's, not the maker's
        assert f.explanation == f"{catalog_app} comes under Acme Holdings (a company rule)"
    for platform, ident in [*PARTNER_APPS, ("android", "com.other.app")]:
        assert m.match_app(App(platform, ident)) == [], ident
    # iOS app extensions of a reached app are found as extensions, as for app entries
    (ext,) = m.match_app(App("ios", "com.acme.chat.widget"))
    assert (ext.match, ext.catalog_app, ext.relation) == ("extension", "acme-chat", "maker")


def test_a_related_company_is_reached_only_with_affiliates_true(acme):
    sigs = load_signatures([acme])
    without, with_ = Matcher(sigs, ["us-wy-acme"]), Matcher(sigs, ["us-wy-acme-affiliates"])
    for (platform, ident), catalog_app in PARTNER_APPS.items():
        assert without.match_app(App(platform, ident)) == []
        (f,) = with_.match_app(App(platform, ident))
        assert (f.catalog_app, f.relation, f.rule) == (catalog_app, "maker", "us-wy-acme-affiliates/acme")
    assert with_.match_app(App("android", "com.other.app")) == []
    # the tie is one tie, whichever company lists it: Partner's own company rule reaches Acme's apps too
    assert set(sigs.reach("partner", affiliates=True)) == {"partner", "partner-sub", "acme", "acme-sub", "acme-deep"}
    assert sigs.reach("partner") == ["partner", "partner-sub"]


def test_a_maker_entry_for_a_subsidiary_does_not_reach_its_parent(acme):
    m = Matcher(load_signatures([acme]), ["us-vt-acme-sub"])
    assert m.match_app(App("android", "com.acme.chat")) == []
    (pay,) = m.match_app(App("android", "com.acmesub.pay"))
    (deep,) = m.match_app(App("ios", "com.acmedeep.app"))
    assert pay.severity == deep.severity == "review"


def test_policy_rules_name_the_maker(acme):
    refs = {r.id: r for ref in Matcher(load_signatures([acme]), ["us-wy-acme"]).policy_refs() for r in ref.rules}
    rule = refs["us-wy-acme/acme"]
    assert (rule.relation, rule.catalog_name, rule.listed) == ("maker", "Acme Holdings", "Acme Holdings")


# --- team ids -------------------------------------------------------------------------------------------


def test_an_uncatalogued_ios_app_of_a_reached_team_is_a_finding_at_the_entry_severity(acme):
    sigs = load_signatures([acme])
    m = Matcher(sigs, ["us-wy-acme"])
    (f,) = m.match_app(App("ios", "com.acme.brandnew", team_id="ACME000001"))
    assert (f.match, f.matched_by, f.severity, f.relation, f.rule) == (
        "team-id", "team-id", "prohibited", "maker", "us-wy-acme/acme")
    assert (f.identifier, f.catalog_app, f.catalog_name) == ("ACME000001", "acme", "Acme Holdings")
    assert f.explanation == "signed by team ACME000001 of Acme Holdings"
    (sub,) = m.match_app(App("ios", "com.whatever.x", team_id="acme000002"))  # a subsidiary's team, any case
    assert (sub.catalog_app, sub.severity) == ("acme-sub", "prohibited")
    assert m.match_app(App("ios", "com.partner.ios", team_id="PART000001")) == []  # not reached without affiliates
    (partner,) = Matcher(sigs, ["us-wy-acme-affiliates"]).match_app(App("ios", "com.partner.ios", team_id="PART000001"))
    assert partner.catalog_app == "partner"
    # a catalogued app signed by the team is its ordinary finding only; Android has no team ids
    (chat,) = m.match_app(App("ios", "com.acme.chat", team_id="ACME000001"))
    assert chat.match == "exact"
    assert m.match_app(App("android", "com.acme.brandnew", team_id="ACME000001")) == []
    # under a policy that only names an app of the maker, the team is a review lead, as in schema 1
    write(acme, "policies/acme-app-only.toml", policy("us-wy-acme-app", app_entry("chat", "acme-chat")))
    (lead,) = Matcher(load_signatures([acme]), ["us-wy-acme-app"]).match_app(
        App("ios", "com.acme.brandnew", team_id="ACME000001"))
    assert (lead.severity, lead.relation, lead.catalog_app) == ("review", "related", "acme-chat")


def test_a_team_id_reached_by_maker_and_app_entries_is_one_finding_the_company_rules(acme):
    write(acme, "policies/both.toml", policy("us-wy-both", app_entry("chat", "acme-chat") + maker_entry("acme", "acme")))
    (f,) = Matcher(load_signatures([acme]), ["us-wy-both"]).match_app(
        App("ios", "com.acme.brandnew", team_id="ACME000001"))
    assert (f.rule, f.severity, f.relation) == ("us-wy-both/acme", "prohibited", "maker")


# --- named beats reached ----------------------------------------------------------------------------


def test_an_app_named_and_reached_in_one_policy_is_one_finding_the_named_one(acme):
    entries = (app_entry("chat", "acme-chat", listed="Acme Chat")
               + app_entry("pay", "acme-pay", relation="related", severity="review", listed="Acme Chat")
               + maker_entry("acme", "acme", listed="Acme Holdings"))
    write(acme, "policies/named.toml", policy("us-wy-named", entries))
    sigs = load_signatures([acme])
    m = Matcher(sigs, ["us-wy-named"])
    (chat,) = m.match_app(App("android", "com.acme.chat"))
    assert (chat.rule, chat.relation, chat.listed) == ("us-wy-named/chat", "app", "Acme Chat")
    (pay,) = m.match_app(App("android", "com.acmesub.pay"))  # named by an entry, even a related one, is its own
    assert (pay.rule, pay.severity) == ("us-wy-named/pay", "review")
    (deep,) = m.match_app(App("ios", "com.acmedeep.app"))  # named by no entry: the company rule's
    assert deep.rule == "us-wy-named/acme"
    # across policies nothing is merged: each policy has its own finding
    both = Matcher(sigs, ["us-wy-named", "us-wy-acme"]).match_app(App("android", "com.acme.chat"))
    assert sorted(f.rule for f in both) == ["us-wy-acme/acme", "us-wy-named/chat"]


def test_two_maker_entries_reaching_one_app_are_two_findings(acme):
    write(acme, "policies/two.toml", policy("us-wy-two", maker_entry("acme", "acme") + maker_entry("sub", "acme-sub")))
    found = Matcher(load_signatures([acme]), ["us-wy-two"]).match_app(App("android", "com.acmesub.pay"))
    assert sorted(f.rule for f in found) == ["us-wy-two/acme", "us-wy-two/sub"]


# --- the loader -------------------------------------------------------------------------------------


def test_a_loop_in_parent_chains_is_an_error_naming_the_files(tmp_path):
    a = write(tmp_path, "a.toml", maker("loop-a", parent="loop-b"))
    b = write(tmp_path, "b.toml", maker("loop-b", parent="loop-c"))
    c = write(tmp_path, "c.toml", maker("loop-c", parent="loop-a"))
    write(tmp_path, "d.toml", maker("loop-d", parent="loop-a"))  # hangs off the loop: not a loop itself
    problems = problems_of(tmp_path)
    loops = [p for p in problems if "is a loop" in p]
    assert len(loops) == 1, problems
    (loop,) = loops
    assert loop.startswith(f"{a}: parent: the parent chain loop-a -> loop-b -> loop-c -> loop-a is a loop")
    assert all(str(f) in loop for f in (a, b, c))


def test_a_maker_of_its_own_and_unknown_makers_are_errors(tmp_path):
    own = write(tmp_path, "own.toml", maker("selfish", parent="selfish"))
    orphan = write(tmp_path, "orphan.toml", maker("orphan", parent="nobody", related="nobody-else"))
    stray = write(tmp_path, "app.toml", app("stray", "no-such-maker", ("android", "com.stray.app")))
    entry = write(tmp_path, "policy.toml", policy("us-wy-x", maker_entry("ghost", "ghost")))
    problems = problems_of(tmp_path)
    expected = [
        f"{own}: parent: a maker cannot be its own parent",
        f"{orphan}: parent: no maker 'nobody' is loaded (add its maker file with --signatures)",
        f"{orphan}: related[0].maker: no maker 'nobody-else' is loaded",
        f"{stray}: maker: no maker 'no-such-maker' is loaded",
        f"{entry}: entries[0].maker: no maker 'ghost' is loaded",
    ]
    for text in expected:
        assert any(p.startswith(text) for p in problems), (text, problems)


def test_trollstore_team_id_is_refused_with_the_reason(tmp_path):
    bad = write(tmp_path, "m.toml", maker("troll", team="T8ALTGMVXN"))
    (problem,) = problems_of(bad)
    assert problem.startswith(f"{bad}: team_ids[0].id: 'T8ALTGMVXN' is TrollStore's default team id")
    assert "says nothing about who made an app" in problem
    # refused in a schema-1 app's team ids too: the value is never evidence, whatever the file's age
    old = write(tmp_path, "old.toml", SCHEMA_1_APP.replace("ACME123456", "T8ALTGMVXN"))
    assert any("TrollStore" in p for p in problems_of(old))


def test_one_team_id_belongs_to_one_maker(tmp_path):
    write(tmp_path, "a.toml", maker("owner-a", team="SAME000001"))
    b = write(tmp_path, "b.toml", maker("owner-b", team="SAME000001"))
    assert any(p.startswith(f"{b}: team_ids[0].id: 'SAME000001' already belongs to maker 'owner-a'")
               for p in problems_of(tmp_path))


@pytest.mark.parametrize("change, expected", [
    (('jurisdiction = "us-wy"\n', ""), "jurisdiction: missing"),
    (('jurisdiction = "us-wy"', 'jurisdiction = "tx"'), "jurisdiction: 'tx' is not a jurisdiction"),
    (('jurisdiction = "us-wy"', 'jurisdiction = "us-zz"'), "jurisdiction: 'us-zz' is not a jurisdiction"),
    (('status = "in-force"', 'status = "in-force"\nconfidence = "uncertain"'), "confidence: 'uncertain' is not accepted"),
    (('status = "in-force"', 'status = "in-force"\nnames = "TikTok"'), "names: expected a list of strings"),
    (('relation = "maker"', 'relation = "app"'), 'entries[0].relation: an entry that names a maker has relation = "maker"'),
    (('maker = "acme"', 'maker = "acme"\napp = "acme-chat"'), "entries[0]: names both an app and a maker"),
    (('maker = "acme"\n', ""), "entries[0].app: missing (an entry names a catalog app"),
])
def test_schema_2_policy_errors(acme, change, expected):
    bad = write(acme, "policies/bad.toml", policy("us-wy-bad", maker_entry("acme", "acme")).replace(*change))
    problems = problems_of(acme)
    assert any(p.startswith(f"{bad}: ") and expected in p for p in problems), problems


def test_app_entry_cannot_claim_relation_maker_or_affiliates(acme):
    text = policy("us-wy-bad", app_entry("chat", "acme-chat", relation="maker") + "affiliates = true\n")
    bad = write(acme, "policies/bad.toml", text)
    problems = problems_of(acme)
    assert f'{bad}: entries[0].relation: "maker" is for an entry that names a maker (maker = "..."); this one names an app' in problems
    assert f"{bad}: entries[0].affiliates: only an entry that names a maker reaches its affiliates" in problems


def test_the_new_policy_fields_and_statuses_load(acme):
    text = policy("us-wy-full", maker_entry("acme", "acme")).replace('status = "in-force"', textwrap.dedent('''\
        status = "enjoined"
        status_note = "Preliminarily enjoined."
        instrument = "HB 1"
        effective = 2025-02-01
        binds = "state agencies"
        names = ["Acme Holdings and any subsidiary"]
        confidence = "secondary"
        checked = 2026-12-01'''))
    write(acme, "policies/full.toml", text)
    write(acme, "policies/rescinded.toml", policy("us-nh-old", maker_entry("acme", "acme"), jurisdiction="us-nh")
          .replace('"in-force"', '"rescinded"'))
    sigs = load_signatures([acme])
    p = sigs.policies["us-wy-full"]
    assert (p.status, p.instrument, str(p.effective), p.binds, p.names, p.confidence, str(p.checked)) == (
        "enjoined", "HB 1", "2025-02-01", "state agencies", ("Acme Holdings and any subsidiary",), "secondary",
        "2026-12-01")
    assert sigs.policies["us-nh-old"].status == "rescinded"


def test_the_maker_kind_is_strict(tmp_path):
    bad = write(tmp_path, "m.toml", maker("acme") + 'country = "China"\nwebsite = "x"\n'
                + '\n[[related]]\nmaker = "acme"\nrelation = "cousin"\nsources = ["x"]\n')
    problems = problems_of(bad)
    assert f"{bad}: country: 'China' is not an ISO 3166-1 alpha-2 country code (two upper-case letters: CN)" in problems
    assert any(p.startswith(f"{bad}: website: unknown key (allowed here: ") for p in problems)
    assert f"{bad}: related[0].relation: expected one of affiliate, former-parent, spun-off, got 'cousin'" in problems
    missing = write(tmp_path, "n.toml", 'kind = "maker"\nschema = 2\nid = "nameless"\n')
    assert set(problems_of(missing)) >= {f"{missing}: name: missing", f"{missing}: sources: missing"}


def test_schema_2_app_team_ids_and_certificate_of(acme):
    text = app("acme-x", "acme", ("android", "com.acme.x")) + textwrap.dedent('''
        [[team_ids]]
        id = "ACME000009"
        holder = "Acme"
        confidence = "reported"
        sources = ["x"]

        [[certificates]]
        algorithm = "md5"
        of = "public-key"
        digest = "18c867f0717aa67b2ab7347505ba07ed"
        confidence = "reported"
        sources = ["x"]
        ''')
    bad = write(acme, "catalog/x.toml", text)
    problems = problems_of(acme)
    assert any(p.startswith(f"{bad}: team_ids: in schema 2 team ids belong to the app's maker") for p in problems)
    assert f"{bad}: certificates[0].of: expected one of signer-certificate, got 'public-key'" in problems
    good = write(acme, "catalog/x.toml", text[:text.index("[[team_ids]]")] + text[text.index("[[certificates]]"):]
                 .replace("public-key", "signer-certificate"))
    assert load_signatures([acme]).apps["acme-x"].certificates[0].of == "signer-certificate", good


# --- selecting by jurisdiction ----------------------------------------------------------------------


def test_select_by_jurisdiction(acme):
    sigs = load_signatures([acme])
    assert [p.id for p in sigs.select(["us-wy"])] == ["us-wy-acme-affiliates", "us-wy-acme"]  # in load order
    assert [p.id for p in sigs.select(["us-vt", "us-wy-acme", "us-wy"])] == [
        "us-vt-acme-sub", "us-wy-acme", "us-wy-acme-affiliates"]
    assert {p.id for p in sigs.select(["us-fed"])} >= {"us-eo-13971", "us-no-tiktok-gov-devices"}
    assert [p.id for p in Matcher(sigs, ["us-vt"]).policies] == ["us-vt-acme-sub"]
    with pytest.raises(SignatureError) as info:
        sigs.select(["us-ca"])
    (problem,) = info.value.problems
    assert problem.startswith("--policy: unknown policy 'us-ca'") and "; loaded policies: " in problem
    jurisdictions = problem.split("; jurisdictions: ")[1].removesuffix(" (or 'all')").split(", ")
    assert {"us-fed", "us-vt", "us-wy"} <= set(jurisdictions) and jurisdictions == sorted(jurisdictions)


# --- schema 1 -----------------------------------------------------------------------------------------

SCHEMA_1_APP = """\
kind = "app"
schema = 1
id = "admin-chat"
name = "Admin Chat"
maker = "Tencent"

[[team_ids]]
id = "ACME123456"
holder = "Admin Corp"
confidence = "reported"
sources = ["admin's notes"]

[[certificates]]
algorithm = "sha1"
digest = "0123456789abcdef0123456789abcdef01234567"
confidence = "reported"
sources = ["apksigner"]

[[identifiers]]
platform = "ios"
id = "com.admin.chat"
edition = "primary"
confidence = "reported"
sources = ["admin's notes"]
"""

SCHEMA_1_POLICY = """\
kind = "policy"
schema = 1
id = "admin-byod"
title = "Admin BYOD"
authority = "Admin IT"
citation = "SEC-1"
signed = 2024-01-01
status = "internal"
url = "https://intranet.example/sec-1"

[[entries]]
key = "chat"
listed = "Admin Chat"
app = "admin-chat"
relation = "app"
severity = "prohibited"

[[entries]]
key = "wechat"
listed = "WeChat"
app = "wechat"
relation = "app"
severity = "review"
"""


def test_a_schema_1_admin_file_still_loads_and_matches_as_before(tmp_path):
    write(tmp_path, "app.toml", SCHEMA_1_APP)
    write(tmp_path, "policy.toml", SCHEMA_1_POLICY)
    sigs = load_signatures([tmp_path])
    chat, pol = sigs.apps["admin-chat"], sigs.policies["admin-byod"]
    assert (chat.maker, chat.maker_id, chat.schema) == ("Tencent", None, 1)  # free text, not the maker "tencent"
    assert [t.id for t in chat.team_ids] == ["ACME123456"] and sigs.team_ids_of(chat) == chat.team_ids
    assert (pol.jurisdiction, pol.names, pol.confidence) == (None, (), None)
    m = Matcher(sigs, ["admin-byod"])
    (f,) = m.match_app(App("ios", "com.admin.chat"))
    assert (f.rule, f.relation, f.severity) == ("admin-byod/chat", "app", "prohibited")
    (lead,) = m.match_app(App("ios", "com.admin.other", team_id="ACME123456"))  # the schema-1 team-id rule
    assert (lead.match, lead.severity, lead.catalog_app) == ("team-id", "review", "admin-chat")
    (wechat,) = m.match_app(App("android", "com.tencent.mm"))  # a schema-1 policy points at schema-2 apps
    assert (wechat.catalog_app, wechat.severity) == ("wechat", "review")
    # a company rule for Tencent does not reach an app whose maker is only the text "Tencent"
    write(tmp_path, "tencent.toml", policy("us-wy-tencent", maker_entry("tencent", "tencent")))
    assert Matcher(load_signatures([tmp_path]), ["us-wy-tencent"]).match_app(App("ios", "com.admin.chat")) == []


@pytest.mark.parametrize("text, key, expected", [
    (SCHEMA_1_POLICY.replace('url = "', 'jurisdiction = "us-wy"\nurl = "'), "jurisdiction", "new in schema 2"),
    (SCHEMA_1_POLICY.replace('app = "admin-chat"', 'maker = "tencent"'), "entries[0].maker", "new in schema 2"),
    (SCHEMA_1_POLICY.replace('relation = "app"\nseverity = "prohibited"', 'relation = "maker"\nseverity = "prohibited"'),
     "entries[0].relation", '"maker" is new in schema 2'),
    (maker("acme").replace("schema = 2", "schema = 1"), "kind", '"maker" is new in schema 2'),
])
def test_schema_2_things_in_a_schema_1_file_say_what_to_do(tmp_path, text, key, expected):
    write(tmp_path, "app.toml", SCHEMA_1_APP)
    bad = write(tmp_path, "file.toml", text)
    problems = problems_of(tmp_path)
    assert any(p.startswith(f"{bad}: {key}: ") and expected in p for p in problems), problems


# --- decoys of one policy are findings of another ---------------------------------------------------

# (platform, id, what): decoys for EO 13971 that a company rule for Tencent reaches. Sogou Input's id is
# test-local when the bundled catalog does not hold it yet.
DECOYS = [("android", "com.tencent.wework", "WeCom"), ("ios", "com.tencent.ww", "WeCom"),
          ("android", "com.tencent.ig", "PUBG Mobile"), ("android", "com.sohu.inputmethod.sogou", "Sogou Input")]


@pytest.fixture
def tencent_decoys(tmp_path):
    """The bundled signatures, plus test-local catalog files for the decoys (and Sogou, Tencent's subsidiary)
    that the bundled catalog does not hold, plus a test policy with a maker entry for Tencent."""
    bundled = load_signatures()
    owned = {(i.platform, i.id.lower()) for a in bundled.apps.values() for i in a.identifiers}
    folder = tmp_path / "local"
    if "sogou" not in bundled.makers:
        write(folder, "makers/sogou.toml", maker("sogou", parent="tencent", name="Sogou"))
    for n, (platform, ident, what) in enumerate(DECOYS):
        if (platform, ident) not in owned:
            maker_id = "sogou" if what == "Sogou Input" else "tencent"
            write(folder, f"catalog/test-decoy-{n}.toml", app(f"test-decoy-{n}", maker_id, (platform, ident), name=what))
    write(folder, "policies/tencent.toml", policy("us-wy-tencent-test", maker_entry(
        "tencent", "tencent", listed="Tencent Holdings Ltd.", affiliates=True)))
    return load_signatures([folder])


@pytest.mark.parametrize("decoy", DECOYS, ids=lambda d: f"{d[0]}:{d[1]}")
def test_eo_13971_decoys_are_findings_of_a_tencent_company_rule(tencent_decoys, decoy):
    platform, ident, _ = decoy
    assert tencent_decoys.makers["sogou"].parent == "tencent"
    assert Matcher(tencent_decoys, ["us-eo-13971"]).match_app(App(platform, ident)) == []
    (f,) = Matcher(tencent_decoys, ["us-wy-tencent-test"]).match_app(App(platform, ident))
    assert (f.rule, f.relation, f.severity, f.listed) == (
        "us-wy-tencent-test/tencent", "maker", "prohibited", "Tencent Holdings Ltd.")
    assert f.catalog_name == tencent_decoys.apps[f.catalog_app].name
    assert tencent_decoys.apps[f.catalog_app].maker_id in {"tencent", "sogou"}


def test_bundled_alibaba_and_tencent_reach(tencent_decoys):
    sigs = tencent_decoys
    # Tencent's own apps, named or not by EO 13971, all come under a Tencent company rule
    m = Matcher(sigs, ["us-wy-tencent-test"])
    for ident, catalog_app in [("com.tencent.mm", "wechat"), ("com.tencent.mobileqq", "qq"), ("com.tencent.tim", "tim")]:
        (f,) = m.match_app(App("android", ident))
        assert (f.catalog_app, f.relation) == (catalog_app, "maker")
    assert m.match_app(App("android", "com.eg.android.AlipayGphone")) == []  # Ant Group is not tied to Tencent
    (team,) = m.match_app(App("ios", "com.tencent.brandnew", team_id="88L2Q4487U"))
    assert (team.severity, team.catalog_name) == ("prohibited", "Tencent Holdings Ltd.")


# --- reports carry maker findings ---------------------------------------------------------------------


def test_reports_of_maker_findings_validate_and_render(acme, tmp_path):
    export = write(tmp_path, "fleet.csv", "platform,device,app_id,team_id\nandroid,A1,com.acmesub.pay,\n"
                                          "ios,I1,com.acme.new,ACME000001\n")
    report = scanner.scan([str(export)], policies=["us-wy"], signatures=[str(acme)])
    findings = [f for r in report.results for f in r.findings]
    assert {(f.relation, f.match) for f in findings} == {("maker", "exact"), ("maker", "team-id")}
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    document = report_to_dict(report)
    jsonschema.validate(document, schema)
    assert {f["relation"] for d in document["devices"] for f in d["findings"]} == {"maker"}
    assert "maker" in {f["kind"] for f in document["signature_files"]}
    sarif = report_to_sarif(report)
    rules = {r["id"]: r for r in sarif["runs"][0]["tool"]["driver"]["rules"]}
    assert rules["us-wy-acme/acme"]["shortDescription"]["text"].startswith(
        "Acme Holdings: the apps of Acme Holdings and the companies it owns")
    for name in ("table", "csv"):
        out = io.StringIO()
        load_format(name).write(report, out, FormatOptions())
        assert "maker" in out.getvalue()


def test_the_documented_example_policy_loads_and_reaches_bytedance(tmp_path):
    docs = (Path(__file__).resolve().parents[1] / "docs" / "signatures.md").read_text(encoding="utf-8")
    example = docs.split("## Adding your own", 1)[1].split("```toml\n", 1)[1].split("```", 1)[0]
    write(tmp_path, "acme-byod.toml", example)
    m = Matcher(load_signatures([tmp_path]), ["acme-byod"])
    (tiktok,) = m.match_app(App("android", "com.zhiliaoapp.musically"))
    assert (tiktok.relation, tiktok.catalog_app, tiktok.rule) == ("maker", "tiktok", "acme-byod/bytedance")
    (cam,) = m.match_app(App("android", "com.intsig.camscanner"))
    assert cam.relation == "app"


def test_a_policy_of_yours_spelt_like_a_jurisdiction_does_not_hide_that_jurisdiction(acme):
    # A file of yours with id = "us-vt" must not shrink `--policy us-vt` to that one policy.
    write(acme, "policies/us-vt.toml", policy("us-vt", maker_entry("other", "other"), jurisdiction="us-wy"))
    sigs = load_signatures([acme])
    assert [p.id for p in sigs.select(["us-vt"])] == ["us-vt", "us-vt-acme-sub"]
    assert [p.id for p in sigs.select(["us-vt", "us-vt"])] == ["us-vt", "us-vt-acme-sub"]


def test_subsidiaries_of_a_big_tree_stay_quick():
    import time

    from scanner.signatures import Maker, Signatures

    makers = {"root": Maker(id="root", name="Root")}
    for i in range(40_000):
        makers[f"m{i}"] = Maker(id=f"m{i}", name=f"M{i}", parent="root" if i % 2 == 0 else f"m{i - 1}")
    sigs = Signatures(apps={}, policies={}, files=(), makers=makers)
    start = time.perf_counter()
    found = sigs.subsidiaries("root")
    assert len(found) == len(set(found)) == 40_001
    assert time.perf_counter() - start < 1.0  # linear: a few ms; the list-membership walk took seconds


def test_sarif_says_when_a_company_rule_reaches_affiliates_too():
    from scanner.formats.sarif import _entry_rule

    sigs = load_signatures()
    refs = {r.id: (p, r) for p in Matcher(sigs, ["us-tx-prohibited-technologies-2023"]).policy_refs() for r in p.rules}
    text = {rid: _entry_rule(p, r)["shortDescription"]["text"] for rid, (p, r) in refs.items()}
    tencent = text["us-tx-prohibited-technologies-2023/tencent"]
    assert "the companies it owns or is tied to" in tencent  # "any subsidiary or affiliate"
    plain = {p.id: (p, r) for p in Matcher(sigs, ["us-md-ciso-directive-2022"]).policy_refs() for r in p.rules
             if r.relation == "maker"}
    assert all("or is tied to" not in _entry_rule(p, r)["shortDescription"]["text"] for p, r in plain.values())
