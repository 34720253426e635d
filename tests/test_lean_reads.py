"""A lean read (scan --input without --inventory: the readers keep only the apps a finding may rest on) gives the
same report as reading every app: the same JSON, byte for byte, for fleet CSVs and Intune exports, clean and
damaged, including apps found by extension, other platform, team id and display name."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.audit import run
from scanner.connectors.files import FileConnector
from scanner.formats.json_report import write_json
from scanner.matcher import Matcher
from scanner.model import App
from scanner.signatures import load_signatures

MOMENT = datetime(2025, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_signatures())


def report_json(matcher: Matcher, data: bytes, lean: bool) -> str:
    conn = FileConnector("input.csv", io.BytesIO(data), keep=matcher.knows, lean=matcher.may_find if lean else None)
    report = run([conn], matcher, inputs=("input.csv",), now=MOMENT)
    report = replace(report, started=MOMENT, finished=MOMENT)
    out = io.StringIO()
    write_json(report, out)
    return out.getvalue()


def same(matcher: Matcher, text: str) -> str:
    data = text.encode("utf-8", "surrogateescape")
    full = report_json(matcher, data, lean=False)
    assert report_json(matcher, data, lean=True) == full
    return full


FLEET = ("platform,device,app_id,name,version\n"
         "android,A1,com.whatsapp,WhatsApp,2\n"
         "android,A1,com.tencent.mm,WeChat,8\n"
         "ios,I1,com.apple.Pages,Pages,1\n"
         "ios,I1,com.tencent.xin.sharetimeline,Share,1\n"  # an extension
         "ios,I1,com.intsig.camscanner,CamScanner,1\n"  # the Android id on an iPhone
         "android,B2,com.android.chrome,Chrome,1\n"
         "android,A1,cn.wps.moffice_eng,WPS,18\n")  # A1 again, apart
FLEET_TEAM = ("platform,device,app_id,name,version,team_id\n"
              "ios,I2,com.apple.Pages,Pages,1,\n"
              "ios,I2,com.tencent.other,Other,1,88L2Q4487U\n"
              "ios,I2,com.example.x,X,1,ZZZZZZZZZZ\n")
INTUNE = ('ApplicationKey,ApplicationName,ApplicationPublisher,ApplicationShortVersion,ApplicationVersion,DeviceId,'
          'DeviceName,OSDescription,OSVersion,Platform,UserId,EmailAddress,UserName\n'
          '"k1","Microsoft Teams","P","1","1.0","d1","DEV-1","OS","17","iOS","u1","a@b.c","A"\n'
          '"k2","WeChat","P","1","1.0","d1","DEV-1","OS","17","iOS","u1","a@b.c","A"\n'
          '"k3","Slack","P","1","1.0","d2","DEV-2","OS","14","Android","u2","c@d.e","C"\n'
          '"k4","com.tencent.mm","P","1","1.0","d2","DEV-2","OS","14","Android","u2","c@d.e","C"\n'
          '"k5","Zoom","P","1","1.0","d3","DEV-3","OS","14","Android","u3","e@f.g","E"\n'
          '"k6","Excel","P","1","1.0","w1","PC-1","OS","11","Windows","u4","g@h.i","G"\n')


@pytest.mark.parametrize("text", [FLEET, FLEET_TEAM, INTUNE], ids=["fleet", "team-id", "intune"])
def test_a_lean_read_gives_the_same_report(matcher, text):
    assert '"findings": [{' in same(matcher, text)


def test_a_lean_read_of_damaged_files_gives_the_same_report(matcher):
    damaged = FLEET.replace("ios,I1,com.apple.Pages", 'ios,I1,"com.apple.Pages') + "android,C3,com.tencent.m"
    same(matcher, damaged)
    same(matcher, FLEET + "android,A1,bad id!,X,1\nandroid,,com.tencent.mm,WeChat,1\n")
    same(matcher, INTUNE.replace('"Zoom"', '"Zo\x1bom"') + '"k7","WeChat","P","1"\n')


IDS = ["com.tencent.mm", "com.whatsapp", "com.tencent.xin.x", "com.intsig.camscanner", "com.android.chrome",
       "Com.Tencent.MM", "cn.wps.moffice_eng", "com.example.a", "bad id", ""]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["android", "ios", "Android", "pc"]), st.sampled_from(["A", "B", "C", ""]),
                          st.sampled_from(IDS)), max_size=20))
def test_any_fleet_gives_the_same_report_lean(matcher, rows):
    text = "platform,device,app_id,name,version\n" + "".join(f"{p},{d},{i},N,1\n" for p, d, i in rows)
    same(matcher, text)


def test_may_find_keeps_every_app_a_finding_rests_on(matcher):
    for platform in ("android", "ios"):
        for app_id in IDS:
            for evidence in ("identifier", "name"):
                app = App(platform, app_id, evidence=evidence)
                if matcher.match_app(app):
                    assert matcher.may_find(app)
    assert not matcher.may_find(App("android", "com.whatsapp"))
