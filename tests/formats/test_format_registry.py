"""The format registry: each name loads a format of that name, which writes what its module writes."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
from report_samples import make_report

from scanner.formats import FORMATS, Format, FormatOptions, load_format
from scanner.formats.csv_report import write_csv
from scanner.formats.json_report import write_json
from scanner.formats.sarif import write_sarif
from scanner.formats.table import write_table


def written(fmt: Format, options: FormatOptions | None = None) -> str:
    out = io.StringIO()
    fmt.write(make_report(), out, options or FormatOptions())
    return out.getvalue()


def test_the_registry_offers_the_formats_in_the_order_of_the_choices():
    assert list(FORMATS) == ["table", "json", "csv", "sarif", "html"]


@pytest.mark.parametrize("name", list(FORMATS))
def test_each_name_loads_a_format_of_that_name_with_one_line_of_help(name):
    fmt = load_format(name)
    assert isinstance(fmt, Format) and fmt.name == name
    assert fmt.description and "\n" not in fmt.description and len(fmt.description) < 80


@pytest.mark.parametrize(("name", "writer"), [
    ("table", write_table), ("json", write_json), ("csv", write_csv), ("sarif", write_sarif),
])
def test_a_registered_format_writes_what_its_module_writes(name, writer):
    out = io.StringIO()
    writer(make_report(), out)
    assert written(load_format(name)) == out.getvalue()


def test_colour_reaches_the_table_through_the_options_and_no_other_format_cares():
    assert "\x1b[31mprohibited\x1b[0m" in written(load_format("table"), FormatOptions(color=True))
    assert "\x1b[31m" + "prohibited" not in written(load_format("table"))
    for name in ("json", "csv", "sarif"):
        assert written(load_format(name), FormatOptions(color=True)) == written(load_format(name))


def test_an_unknown_name_is_a_key_error():
    with pytest.raises(KeyError):
        load_format("xml")


def test_naming_the_formats_imports_none_of_them():
    code = ("import sys, scanner.formats as f; names = list(f.FORMATS); "
            "print(sorted(m for m in sys.modules if m.startswith('scanner.formats.') or m == 'tabulate'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['scanner.formats.interface']"
