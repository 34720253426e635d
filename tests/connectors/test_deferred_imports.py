"""`requests` (which adbutils and pymobiledevice3 import for downloads) is executed on first use
(scanner.connectors.deferred).

A scan process never executes it (its lazy state is read in the scan's own
process, after the scan: a LazyLoader module not yet executed, urllib3 never
imported); a program that does use it gets the real module, adbutils' own
download code included, and one module per submodule (one ConnectionError
class, whatever it imports first); a scan of Android and iOS together, where
pymobiledevice3 imports requests a second time, still reads every device. The
finder itself (DeferredPackage, defer) is checked on throwaway modules and
packages.
"""

from __future__ import annotations

import http.server
import importlib
import json
import os
import subprocess
import sys
import threading
import types
from collections.abc import Iterator
from pathlib import Path

import pytest
from android_fleet import phone
from served import Served, client_env, free_port

from scanner.connectors.deferred import DeferredPackage, defer
from scanner.simulator.android import AndroidSimulator
from scanner.simulator.profile import AppProfile

TIKTOK = AppProfile("com.zhiliaoapp.musically", installer="com.android.vending", build="370104")

# Runs PRE, `scanner ARGS...` and POST in this very process, then prints (stderr, last line) what became of requests.
STATE = r"""
import json, sys, types
PRE, POST = sys.argv.pop(1), sys.argv.pop(1)
exec(PRE)
from scanner.cli import main
try:
    code = main(sys.argv[1:], standalone_mode=False)
    exec(POST)
finally:
    m = sys.modules.get("requests")
    install = sys.modules.get("adbutils.install")
    state = {
        "requests": None if m is None else ("executed" if type(m) is types.ModuleType else "deferred"),
        "urllib3": "urllib3" in sys.modules,
        "adapters": "requests.adapters" in sys.modules,
        "adbutils_sees_it": install is not None and install.__dict__.get("requests") is m,
        "finders": sum(type(f).__name__ == "DeferredPackage" and f.name == "requests" for f in sys.meta_path),
    }
    print(json.dumps(state), file=sys.stderr)
sys.exit(code)
"""


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k != "PYTHONPATH" and not k.startswith(("ANDROID_", "ADB")) and "proxy" not in k.lower()}
    env.update(extra)
    return env


def run_state(args: list[str], env: dict[str, str], cwd: Path, pre: str = "", post: str = "",
              ) -> tuple[int, dict, dict]:
    proc = subprocess.run([sys.executable, "-c", STATE, pre, post, *args], check=False, capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    state = json.loads(proc.stderr.strip().splitlines()[-1])
    return proc.returncode, json.loads(proc.stdout), state


@pytest.fixture(scope="module")
def sim() -> Iterator[AndroidSimulator]:
    with AndroidSimulator([phone("LAZYREQ01", TIKTOK)]) as s:
        yield s


def android_env(sim: AndroidSimulator, tmp_path: Path) -> dict[str, str]:
    (tmp_path / "home").mkdir(exist_ok=True)
    return clean_env({"ANDROID_ADB_SERVER_PORT": str(sim.adb_port), "HOME": str(tmp_path / "home"),
                      "USBMUXD_SOCKET_ADDRESS": f"127.0.0.1:{free_port()}"})


def check_one_phone(code: int, report: dict) -> None:
    assert code == 1
    (device,) = report["devices"]
    assert (device["device"]["serial"], device["status"], device["app_count"]) == ("LAZYREQ01", "complete", 6)
    assert [f["app"]["id"] for f in device["findings"]] == [TIKTOK.id]


def test_a_scan_process_never_executes_requests(sim, tmp_path):
    code, report, state = run_state(["scan", "--platform", "android", "--format", "json"],
                                    android_env(sim, tmp_path), tmp_path)
    check_one_phone(code, report)
    # Imported (adbutils.install holds it), never executed: nothing of what it imports was loaded.
    assert state == {"requests": "deferred", "urllib3": False, "adapters": False, "adbutils_sees_it": True,
                     "finders": 1}


def test_requests_imported_before_the_scan_is_left_as_it_is(sim, tmp_path):
    """Only a module not yet imported is deferred: one the program imported first stays the executed one."""
    code, report, state = run_state(["scan", "--platform", "android", "--format", "json"],
                                    android_env(sim, tmp_path), tmp_path, pre="import requests")
    check_one_phone(code, report)
    assert state == {"requests": "executed", "urllib3": True, "adapters": True, "adbutils_sees_it": True,
                     "finders": 0}  # nothing registered for a module already imported


USE = r"""
import sys, types
from pathlib import Path
import scanner.connectors.android.connector  # registers the deferral, imports adbutils
import adbutils.install
from adbutils import AdbDevice
m = sys.modules["requests"]
assert type(m) is not types.ModuleType and "urllib3" not in sys.modules, "deferred until here"
url, out, first = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
exec(first)  # the first use: adbutils' own download, a submodule import, or a from-import
assert type(m) is types.ModuleType and adbutils.install.requests is m is sys.modules["requests"]
AdbDevice.download_apk(url + "/app.apk", out)  # adbutils' own code path
assert out.read_bytes() == b"PK-not-really-an-apk"
try:
    AdbDevice.download_apk(url + "/missing.apk", out)  # its `except requests.exceptions.RequestException`
except m.exceptions.HTTPError as err:
    assert err.response.status_code == 404
else:
    raise AssertionError("a 404 was not an error")
import requests.adapters
from requests import Session
s = Session()
assert isinstance(s.get_adapter(url), requests.adapters.HTTPAdapter)
assert s.get(url + "/app.apk").content == b"PK-not-really-an-apk"
print("ok")
"""


class _Files(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/app.apk":
            body = b"PK-not-really-an-apk"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("first", [
    'AdbDevice.download_apk(url + "/app.apk", out)',
    "import requests.adapters; assert requests.adapters.HTTPAdapter",
    "from requests.exceptions import ConnectionError as Mine; import requests.adapters; "
    "assert requests.adapters.ConnectionError is Mine is requests.ConnectionError",
    "from requests import Session, adapters; assert Session and adapters.HTTPAdapter",
    "import requests; assert requests.Session",
], ids=["adbutils-download", "import-submodule", "submodule-then-another", "from-import",
        "second-import-statement"])
def test_a_deferred_requests_works_on_first_use_adbutils_download_included(tmp_path, first):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        proc = subprocess.run([sys.executable, "-c", USE, url, str(tmp_path / "app.apk"), first], check=False,
                              capture_output=True, text=True, env=clean_env({"NO_PROXY": "127.0.0.1"}), timeout=120)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
    assert (proc.returncode, proc.stdout) == (0, "ok\n"), proc.stderr
    assert "Failed to download APK from" in proc.stderr and "404" in proc.stderr  # adbutils' except branch ran


DEMO_STATUS = {
    ("android", "SIMGALAXYS23B"): ("partial", "user-refused"),
    ("android", "SIMPIXEL7A"): ("complete", None),
    ("ios", "00008110-00125C963A91801E"): ("complete", None),
    ("ios", "00008030-001A35E11E05802E"): ("failed", "locked"),
}

# pymobiledevice3.utils (its `import requests` at the top) is no longer on the scan's path; a program using
# pymobiledevice3 beside the scan imports it, a second import of requests, which executes it.
PYMOBILEDEVICE3_TOO = r"""
import pymobiledevice3.utils, requests, types
assert type(requests) is types.ModuleType and pymobiledevice3.utils.requests is requests
assert requests.Session().get_adapter("http://127.0.0.1/") is not None
"""


@pytest.mark.parametrize("pre, post", [
    ("", ""),
    ("", PYMOBILEDEVICE3_TOO),
    ("import scanner.connectors.ios", PYMOBILEDEVICE3_TOO),  # the iOS connector's finder for requests first
], ids=["scan", "then-pymobiledevice3-imports-requests", "ios-finder-first"])
def test_a_scan_of_android_and_ios_together(tmp_path, pre, post):
    """The demo fleet (two phones, two iPhones) served by `scanner simulate`, scanned in one process."""
    env = client_env(tmp_path)
    sim = Served([], env, tmp_path)
    try:
        code, report, state = run_state(["scan", "--format", "json"], {**env, **sim.exports}, tmp_path, pre, post)
    finally:
        sim.stop()
    assert code == 5  # a locked iPhone: not every target read
    assert {(r["device"]["platform"], r["device"]["serial"]): (r["status"], r["reason"])
            for r in report["devices"]} == DEMO_STATUS
    assert sum(len(r["findings"]) for r in report["devices"]) == 8
    # One module, held by adbutils too; executed only when something used it; no finder left waiting.
    assert state["requests"] == ("executed" if post else "deferred")
    assert state["urllib3"] is bool(post)
    assert state["adbutils_sees_it"] and state["finders"] == 1


# --- the finder itself, on throwaway modules ----------------------------------------------------------


@pytest.fixture
def modules(tmp_path, monkeypatch) -> Iterator[Path]:
    """A folder on sys.path for throwaway modules; sys.meta_path and sys.modules restored afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(sys, "meta_path", list(sys.meta_path))
    before = set(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - before:
        del sys.modules[name]


def write(folder: Path, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(f"import sys\nsys.modules['{name}_ran'] = sys\n{body}\n", encoding="utf-8")


def ran(name: str) -> bool:
    return f"{name}_ran" in sys.modules


def test_the_first_import_is_deferred_and_the_first_attribute_runs_it(modules):
    write(modules, "lazyprobe_a", "VALUE = 42")
    defer("lazyprobe_a")
    import lazyprobe_a

    assert not ran("lazyprobe_a") and type(lazyprobe_a) is not types.ModuleType
    assert lazyprobe_a.VALUE == 42 and ran("lazyprobe_a") and type(lazyprobe_a) is types.ModuleType


def test_a_second_import_statement_runs_it(modules):
    """The documented limit: the import statement reads __spec__ of a module already in sys.modules."""
    write(modules, "lazyprobe_b", "VALUE = 1")
    defer("lazyprobe_b")
    import lazyprobe_b  # noqa: F401

    assert not ran("lazyprobe_b")
    import lazyprobe_b as again

    assert ran("lazyprobe_b") and again.VALUE == 1


def test_nothing_is_registered_for_a_module_already_imported_or_already_waiting(modules):
    write(modules, "lazyprobe_c", "")
    import lazyprobe_c  # noqa: F401

    defer("lazyprobe_c")
    defer("lazyprobe_d")
    defer("lazyprobe_d")
    assert [f.name for f in sys.meta_path if isinstance(f, DeferredPackage) and f.name.startswith("lazyprobe")] == ["lazyprobe_d"]


def test_a_missing_module_is_still_a_missing_module(modules):
    defer("lazyprobe_nowhere")
    with pytest.raises(ModuleNotFoundError):
        import lazyprobe_nowhere  # noqa: F401


def test_a_broken_module_fails_at_its_first_use(modules):
    write(modules, "lazyprobe_e", "raise ImportError('a dependency is missing')")
    defer("lazyprobe_e")
    import lazyprobe_e

    with pytest.raises(ImportError, match="a dependency is missing"):
        lazyprobe_e.anything  # noqa: B018


def test_other_names_pass_through_the_finder(modules):
    write(modules, "lazyprobe_f", "VALUE = 3")
    defer("lazyprobe_g")
    import lazyprobe_f

    assert ran("lazyprobe_f") and lazyprobe_f.VALUE == 3  # imported as usual
    assert [f.name for f in sys.meta_path if isinstance(f, DeferredPackage) and f.name.startswith("lazyprobe")] == ["lazyprobe_g"]


def write_package(folder: Path, name: str) -> None:
    """A package whose __init__ imports its own submodule, as requests/__init__ does; each counts its runs."""
    (folder / name).mkdir()
    count = "import sys\nsys.modules.setdefault('{0}_runs', []).append(1)\n"
    (folder / name / "__init__.py").write_text(count.format(name) + "from . import sub\nfrom .sub import Error\n",
                                             encoding="utf-8")
    (folder / name / "sub.py").write_text(count.format(f"{name}.sub") + "class Error(Exception):\n    pass\n",
                                         encoding="utf-8")


def runs(name: str) -> int:
    return len(sys.modules.get(f"{name}_runs", []))


@pytest.mark.parametrize("first", ["import {0}.sub", "from {0}.sub import Error", "from {0} import sub",
                                   "import {0}; {0}.Error"])
def test_a_deferred_package_and_its_submodule_each_run_once_whatever_is_imported_first(modules, first):
    """LazyLoader alone runs the submodule twice when it is imported first (the package's __init__, run by the
    import system reading its __path__, imports it, then the import system loads it again): two Error classes."""
    write_package(modules, "lazypkg")
    defer("lazypkg")
    import lazypkg

    assert runs("lazypkg") == 0 and runs("lazypkg.sub") == 0
    exec(first.format("lazypkg"), {})
    import lazypkg.sub

    assert runs("lazypkg") == 1 and runs("lazypkg.sub") == 1
    assert sys.modules["lazypkg.sub"] is lazypkg.sub and lazypkg.Error is lazypkg.sub.Error
    assert lazypkg.sub.__spec__.name == "lazypkg.sub" and lazypkg.sub.__spec__.origin.endswith("sub.py")
    importlib.reload(lazypkg.sub)  # its own spec again: reload finds its file
    assert runs("lazypkg.sub") == 2


def test_a_submodule_not_yet_imported_is_left_to_the_usual_finders(modules):
    write_package(modules, "lazypkg2")
    (modules / "lazypkg2" / "other.py").write_text("VALUE = 7\n", encoding="utf-8")
    defer("lazypkg2")
    import lazypkg2.other

    assert lazypkg2.other.VALUE == 7 and runs("lazypkg2") == 1 and runs("lazypkg2.sub") == 1
