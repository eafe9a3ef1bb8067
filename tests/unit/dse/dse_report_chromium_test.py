#!/usr/bin/env python3
"""report.html in headless Chromium (Debian's `chromium`), offline.

  dse_report_chromium_test.py --nuri build/bin/nuri --src . --out DIR

Runs examples/sweeps/bert-tiny-grid.yaml and `nuri report`, then loads the
page in headless Chromium with every host name unresolvable (no network),
dumps the DOM and fails on any console message (a page without script has
none; a resource it tried to fetch would log one). Takes a screenshot at
1400x2000 into DIR/report.png.

First it checks itself: a page that logs a console error must be caught,
and a trivial page must load; if Chromium is missing or cannot start here,
the test says why and exits 77 (ctest SKIP_RETURN_CODE).
"""
import argparse
import os
import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

SKIP = 77


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def load(chromium, page, profile, screenshot=None):
    """Runs headless Chromium on `page`; returns (rc, dom, console lines, stderr)."""
    cmd = [chromium, "--headless", "--disable-gpu", "--no-sandbox", "--no-first-run",
           "--disable-extensions", "--disable-background-networking", "--disable-sync",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--proxy-server=127.0.0.1:9",
           f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
           "--window-size=1400,2000"]
    if screenshot:
        cmd.append(f"--screenshot={screenshot}")
    else:
        cmd.append("--dump-dom")
    cmd.append(page.resolve().as_uri())
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return -1, "", [], "timed out after 120 s"
    # Chromium logs every console message of the page as `...:CONSOLE(...)]`
    # or `...:CONSOLE:N] "message", source: URL (line)`.
    console = [l for l in r.stderr.splitlines() if re.search(r":CONSOLE[:(]", l)]
    return r.returncode, r.stdout, console, r.stderr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    chromium = chromium_binary()
    if not chromium:
        print("SKIP: no chromium on PATH (Debian's `chromium`, scripts/install-deps.sh)")
        return SKIP
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nuri-chromium-") as tmp:
        work = pathlib.Path(tmp)
        good = work / "good.html"
        good.write_text("<!DOCTYPE html><html><body><p id=ok>ok</p></body></html>")
        rc, dom, console, err = load(chromium, good, work / "p0")
        if rc != 0 or 'id="ok"' not in dom:
            tail = "\n".join(err.splitlines()[-8:])
            print(f"SKIP: chromium cannot run here (exit {rc} on a trivial page):\n{tail}")
            return SKIP
        bad = work / "bad.html"
        bad.write_text("<!DOCTYPE html><html><body><script>console.error('nuri-selftest')</script>"
                       "</body></html>")
        rc, dom, console, err = load(chromium, bad, work / "p1")
        if not any("nuri-selftest" in l for l in console):
            print("FAIL: the console check does not see a page's console.error; stderr:\n" + err[-2000:])
            return 1
        print("ok   chromium runs, and the console check catches a console error")

        sweep = work / "bt"
        r = subprocess.run([args.nuri, "sweep", str(pathlib.Path(args.src) / "examples/sweeps/bert-tiny-grid.yaml"),
                            "-o", str(sweep), "--quiet"], capture_output=True, text=True, timeout=600)
        if r.returncode != 0:
            print("FAIL: nuri sweep: " + r.stderr)
            return 1
        report = out / "report.html"
        r = subprocess.run([args.nuri, "report", str(sweep), "-o", str(report)], capture_output=True, text=True,
                           timeout=600)
        if r.returncode != 0:
            print("FAIL: nuri report: " + r.stderr)
            return 1
        failures = 0
        rc, dom, console, err = load(chromium, report, work / "p2")
        svgs = dom.count("<svg")
        if rc != 0 or svgs < 5:
            print(f"FAIL: chromium exit {rc}, {svgs} <svg> in the DOM it dumps")
            failures += 1
        else:
            print(f"ok   report.html loads: {svgs} SVGs in the DOM")
        if console:
            print("FAIL: console messages:\n  " + "\n  ".join(console))
            failures += 1
        else:
            print("ok   no console messages")
        png = out / "report.png"
        if png.exists():
            png.unlink()
        rc, _, console, err = load(chromium, report, work / "p3", screenshot=png)
        if rc != 0 or not png.exists() or png.stat().st_size < 20000:
            print(f"FAIL: screenshot: exit {rc}, {png.stat().st_size if png.exists() else 0} bytes")
            failures += 1
        else:
            print(f"ok   screenshot {png} ({png.stat().st_size} bytes)")
        if console:
            print("FAIL: console messages while taking the screenshot:\n  " + "\n  ".join(console))
            failures += 1
    print(f"{failures} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
