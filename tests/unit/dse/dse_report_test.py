#!/usr/bin/env python3
"""`nuri report` on a real sweep (docs/dse.md, "How to read the report").

  PYTHONPATH=tests/common dse_report_test.py --nuri build/bin/nuri --src . [--keep DIR]

- runs examples/sweeps/bert-tiny-grid.yaml, then `nuri report`;
- the page is self-contained: no script, nothing fetched;
- its SVGs are there: the two Pareto plots, the sensitivity plots (one per
  objective and axis), the roofline and the cycle breakdown;
- every number it prints from the results equals results.csv: each cell
  carries the CSV's exact text (data-v) and shows it to six digits;
- the per-layer cycles of every simulated point add up to its cycles;
- a sweep with an impossible chip and a failed compile: those points are
  listed with their status and the reason results.csv gives;
- bad input: a missing DIR, an empty DIR, an empty results.jsonl and a
  corrupt line (named by number) each exit 1 with a message.
With --keep DIR the report is left at DIR/report.html (the Chromium test).
Prints one line per check and exits non-zero if any failed.
"""
import argparse
import csv
import html.parser
import json
import pathlib
import shutil
import sys
import tempfile

from cli_test_util import check, failures, run


class Page(html.parser.HTMLParser):
    """The report's SVG titles, its result cells by (table, point), and
    anything that would load or run something."""

    def __init__(self):
        super().__init__()
        self.svg_titles = []
        self.in_svg = 0
        self.want_title = False
        self.tables = []  # classes of each <table>
        self.rows = []  # (table class, point, [(col, v, text)])
        self.row = None
        self.cell = None
        self.external = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "script":
            self.scripts += 1
        for k in ("src", "href"):
            if k in a:
                self.external.append(a[k])
        if tag == "link":
            self.external.append(a.get("href", "link"))
        if tag == "svg":
            self.in_svg += 1
            self.want_title = True
        elif tag == "title" and self.in_svg and self.want_title:
            self.svg_titles.append("")
        elif tag == "table":
            self.tables.append(a.get("class", ""))
        elif tag == "tr" and "data-point" in a:
            self.row = (self.tables[-1] if self.tables else "", int(a["data-point"]), [])
        elif tag == "td" and self.row is not None and "data-col" in a:
            self.cell = [a["data-col"], a["data-v"], ""]

    def handle_endtag(self, tag):
        if tag == "svg":
            self.in_svg -= 1
        elif tag == "title" and self.want_title and self.in_svg:
            self.want_title = False
        elif tag == "td" and self.cell is not None:
            self.row[2].append(tuple(self.cell))
            self.cell = None
        elif tag == "tr" and self.row is not None:
            self.rows.append(self.row)
            self.row = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[2] += data
        if self.in_svg and self.want_title and self.svg_titles:
            self.svg_titles[-1] += data


def read_csv(path):
    with open(path, newline="") as f:
        return {int(r["point"]): r for r in csv.DictReader(f)}


def check_cells(page, rows, table, what):
    """Every cell of `table` rows against results.csv; returns cells seen."""
    seen = 0
    bad = []
    for cls, point, cells in page.rows:
        if table not in cls.split():
            continue
        r = rows.get(point)
        if r is None:
            bad.append(f"point {point} not in results.csv")
            continue
        for col, v, text in cells:
            want = r.get(col, "")
            seen += 1
            if v != want:
                bad.append(f"point {point} {col}: data-v {v!r} != csv {want!r}")
                continue
            try:
                shown = format(float(want), ".6g") if want != "" else ""
            except ValueError:
                shown = want
            if text != shown:
                bad.append(f"point {point} {col}: shows {text!r}, csv {want!r} is {shown!r}")
    check(seen > 0 and not bad, f"{what}: {seen} cells equal results.csv", "; ".join(bad[:5]))
    return seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nuri", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("--keep")
    args = ap.parse_args()
    nuri, src = pathlib.Path(args.nuri), pathlib.Path(args.src)
    with tempfile.TemporaryDirectory(prefix="nuri-report-") as tmp:
        work = pathlib.Path(tmp)
        out = work / "bt"
        r = run([nuri, "sweep", src / "examples/sweeps/bert-tiny-grid.yaml", "-o", out, "--quiet"])
        check(r.returncode == 0, "nuri sweep bert-tiny-grid", r.stderr)
        report = work / "report.html"
        r = run([nuri, "report", out, "-o", report])
        check(r.returncode == 0 and report.exists(), "nuri report", r.stderr)
        if failures():
            return 1
        text = report.read_text()
        page = Page()
        page.feed(text)
        rows = read_csv(out / "results.csv")

        check(page.scripts == 0, "no script")
        check(not page.external, "nothing fetched (no src/href/link)", str(page.external[:3]))
        titles = page.svg_titles
        spec_axes, spec_objs = 3, 3  # bert-tiny-grid.yaml
        check(any("against area" in t for t in titles), "Pareto plot against area", str(titles))
        check(any("against energy" in t for t in titles), "Pareto plot against energy", str(titles))
        sens = [t for t in titles if " vs " in t]
        check(len(sens) == spec_axes * spec_objs,
              f"sensitivity plots: {len(sens)} (objectives x axes = {spec_axes * spec_objs})")
        check(any("Roofline" in t for t in titles), "roofline plot")
        check(any("Where the cycles went" in t for t in titles), "cycle breakdown plot")
        check(text.count('class="pf"') > 0, "Pareto front points highlighted")

        seen = check_cells(page, rows, "all", "all-points table")
        all_points = {p for cls, p, _ in page.rows if "all" in cls.split()}
        check(all_points == set(rows), f"all-points table lists the {len(rows)} points",
              f"{sorted(all_points)} vs {sorted(rows)}")
        check_cells(page, rows, "res", "front and best-point tables")

        # Per-layer detail: every simulated point's layers add up to its cycles.
        details = {}
        for line in (out / "layers.jsonl").read_text().splitlines():
            d = json.loads(line)
            details[d["point"]] = d
        bad = []
        for p, r in rows.items():
            if r["cycles"] == "":
                continue
            d = details.get(p)
            if d is None:
                bad.append(f"point {p}: no layers.jsonl line")
                continue
            total = sum(l["cycles"] for l in d["layers"])
            if total != float(r["cycles"]) or d["cycles"] != float(r["cycles"]):
                bad.append(f"point {p}: layers sum {total}, csv {r['cycles']}")
            if not any(l["flops"] > 0 and l["weight_bytes"] > 0 for l in d["layers"]):
                bad.append(f"point {p}: no layer with FLOPs and weight bytes")
        check(not bad and details, f"layers.jsonl: {len(details)} points, layers add up", "; ".join(bad[:5]))
        check("add up to" not in text, "the report finds the best point's layers add up")

        # Failed and invalid points, listed with the CSV's reason.
        spec = work / "bad.yaml"
        spec.write_text("name: bad\nworkloads:\n  - name: bert\n    zoo: bert-tiny\n    seq: 16\n"
                        "target: atom\naxes:\n  matrix.rows: [64, 48]\n  dram.bytes: [16GiB, 256KiB]\n")
        bad_out = work / "bad"
        r = run([nuri, "sweep", spec, "-o", bad_out, "--quiet"])
        check(r.returncode == 0, "sweep with an impossible chip and a failed compile", r.stderr)
        bad_report = work / "bad.html"
        r = run([nuri, "report", bad_out, "-o", bad_report])
        check(r.returncode == 0, "report of it", r.stderr)
        bpage = Page()
        bpage.feed(bad_report.read_text())
        brows = read_csv(bad_out / "results.csv")
        listed = {p: dict((c, v) for c, v, _ in cells) for cls, p, cells in bpage.rows if "bad" in cls.split()}
        want = {p for p, r in brows.items() if r["status"] != "ok"}
        check(set(listed) == want and len(want) == 3, f"failed points listed: {sorted(listed)}", f"want {sorted(want)}")
        check(all(listed[p].get("reason") == brows[p]["reason"] != "" and
                  listed[p].get("status") == brows[p]["status"] for p in listed),
              "their status and reason equal results.csv")
        check_cells(bpage, brows, "bad", "failed-points table")

        # A kill mid-write: the last results line lost, the last layers line
        # torn. The resumed sweep drops the torn line and reruns the point;
        # the report reads both files and the layers still add up.
        killed = work / "killed"
        shutil.copytree(out, killed)
        res = (killed / "results.jsonl").read_text().splitlines(keepends=True)
        (killed / "results.jsonl").write_text("".join(res[:-1]))
        lay = (killed / "layers.jsonl").read_text()
        (killed / "layers.jsonl").write_text(lay[: len(lay) - 40])
        r = run([nuri, "sweep", src / "examples/sweeps/bert-tiny-grid.yaml", "-o", killed, "--quiet"])
        check(r.returncode == 0, "resume after a torn layers.jsonl line", r.stderr)
        r = run([nuri, "report", killed, "-o", work / "killed.html"])
        check(r.returncode == 0, "report after the resume", r.stderr)
        kd = {}
        for line in (killed / "layers.jsonl").read_text().splitlines():
            d = json.loads(line)
            kd[d["point"]] = d
        krows = read_csv(killed / "results.csv")
        check(set(kd) == set(krows) and all(
            sum(l["cycles"] for l in kd[p]["layers"]) == float(krows[p]["cycles"]) for p in krows),
            "every resumed point has its layers, adding up")

        # Bad input.
        r = run([nuri, "report", work / "nonexistent", "-o", work / "x.html"])
        check(r.returncode == 1 and "nonexistent" in r.stderr and "no such directory" in r.stderr,
              "missing DIR: exit 1, names it", r.stderr)
        (work / "empty").mkdir()
        r = run([nuri, "report", work / "empty", "-o", work / "x.html"])
        check(r.returncode == 1 and "no sweep results" in r.stderr, "empty DIR: exit 1", r.stderr)
        copy = work / "copy"
        shutil.copytree(out, copy, ignore=shutil.ignore_patterns("cache"))
        (copy / "results.jsonl").write_text("")
        r = run([nuri, "report", copy, "-o", work / "x.html"])
        check(r.returncode == 1 and "no points yet" in r.stderr, "empty results.jsonl: exit 1", r.stderr)
        lines = (out / "results.jsonl").read_text().splitlines(keepends=True)
        lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
        (copy / "results.jsonl").write_text("".join(lines))
        r = run([nuri, "report", copy, "-o", work / "x.html"])
        check(r.returncode == 1 and "results.jsonl:3:" in r.stderr, "corrupt line 3: exit 1 naming results.jsonl:3",
              r.stderr)
        check(not (work / "x.html").exists(), "no report written on bad input")

        if args.keep:
            keep = pathlib.Path(args.keep)
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(report, keep / "report.html")
    print(f"{failures()} failed")
    return 1 if failures() else 0


if __name__ == "__main__":
    sys.exit(main())
