"""Rows.feed (the Intune per-row loop with its shortcut for the rows a lean
read does not keep) gives exactly what a call of Rows.row per record gives."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from scanner.connectors.files.common import lean_reading
from scanner.connectors.files.readers.intune.rows import Columns, Rows

HEADER = ["ApplicationName", "ApplicationVersion", "DeviceId", "Platform"]
ROW = st.tuples(st.sampled_from(["WhatsApp", "com.tencent.mm", "Slack", "", "Sl\u202eack", " Slack ", "Zo\u200bom"]),
                st.sampled_from(["1", ""]), st.sampled_from(["d1", "d2", "", "d\x00"]),
                st.sampled_from(["Android", "iOS", "Windows", "", "Toaster"])).map(list)
RECORDS = st.lists(st.one_of(ROW, ROW.map(lambda r: r[:3])), max_size=60)


def _wants(app) -> bool:  # type: ignore[no-untyped-def]
    return app.name in ("com.tencent.mm", "Sl\u202eack")


def _shown(rows: Rows, invs: list) -> list:
    invs = invs + list(rows.end(None))
    return [(i.device, i.apps, i.coverage, i.status, i.reason, i.problems, i.problem_count, i.residue) for i in invs]


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_feed_gives_what_row_by_row_gives(records: list[list[str]]) -> None:
    numbered = list(enumerate(records, 2))
    with lean_reading(_wants):
        fed = Rows("AppInvRawData.csv", Columns(HEADER))
        got = _shown(fed, list(fed.feed(numbered)))
        one = Rows("AppInvRawData.csv", Columns(HEADER))
        want = _shown(one, [inv for line, row in numbered if (inv := one.row(line, row)) is not None])
    assert got == want


def test_the_shortcut_counts_the_rows_it_skips() -> None:
    records = [(n, ["Slack", "1", "d1", "Android"]) for n in range(2, 12)]
    with lean_reading(_wants):
        rows = Rows("AppInvRawData.csv", Columns(HEADER))
        assert list(rows.feed(records)) == []
        (inv,) = rows.end(None)
    assert [a.name for a in inv.apps] == ["Slack"]
    assert inv.coverage[0].apps == 10
