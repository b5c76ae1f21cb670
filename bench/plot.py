"""Draw a `zipc bench --json` result: python3 bench/plot.py RESULT.json OUT.svg|OUT.png

`zipc bench --plot OUT` runs it after the run. Three panels from the one run:
the 32 B round trip's distribution per row (the share of round trips slower
than x, log-log, so the tail shows), the 32 B streaming rate and the 1 MiB
streaming bandwidth per row (C rows, the bindings' rows and the peers', as the
table has them). matplotlib draws it; without matplotlib this exits with 3 and
one line saying so.
"""
from __future__ import annotations

import json
import sys

PERCENTILE_KEYS = (("min_ns", 0.0), ("p50_ns", 0.5), ("p90_ns", 0.9), ("p99_ns", 0.99),
                   ("p99_9_ns", 0.999), ("max_ns", 1.0))


def label(row: dict) -> str:
    lang = row.get("lang", "c")
    name = row.get("name", "?")
    return name if lang in ("c", "cpp") or name.startswith(lang) else f"{name} ({lang})"


def quantiles(row: dict) -> list[tuple[float, float]]:
    """(quantile, ns) points of a round-trip row: its cdf when it has one,
    else the percentiles every rtt row reports."""
    if row.get("cdf"):
        return [(float(q), float(ns)) for q, ns in row["cdf"]]
    return [(q, float(row[k])) for k, q in PERCENTILE_KEYS if isinstance(row.get(k), (int, float))]


def measured(rows: list[dict], kind: str, size: int, key: str) -> list[dict]:
    return [r for r in rows if r.get("ok") and r.get("kind") == kind and r.get("size_bytes") == size
            and isinstance(r.get(key), (int, float)) and not r.get("subs") and not r.get("producers")
            and not r.get("inflight")]


def bars(ax, rows: list[dict], key: str, scale: float, unit: str, title: str) -> None:
    rows = sorted(rows, key=lambda r: r[key])
    names = [label(r) for r in rows]
    values = [r[key] / scale for r in rows]
    colors = ["tab:blue" if r.get("name", "").startswith("zipc") else "tab:gray" for r in rows]
    ax.barh(names, values, color=colors)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.3g}", va="center", fontsize=7)
    ax.set_xlabel(unit)
    ax.set_title(title, fontsize=10)
    ax.tick_params(axis="y", labelsize=7)
    if not rows:
        ax.text(0.5, 0.5, "no rows", ha="center", transform=ax.transAxes)


def draw(result: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result.get("rows", [])
    fig, (lat, small, big) = plt.subplots(1, 3, figsize=(17, 6), gridspec_kw={"width_ratios": [1.3, 1, 1]})
    for row in measured(rows, "rtt", 32, "p50_ns"):
        pts = [(ns, 1.0 - q) for q, ns in quantiles(row) if q < 1.0 and ns > 0]
        if pts:
            xs, ys = zip(*pts)
            style = "-" if row.get("name", "").startswith("zipc") else "--"
            lat.plot(xs, ys, style, marker=".", markersize=3, label=f"{label(row)} p50 {row['p50_ns']:.0f} ns")
    lat.set_xscale("log")
    lat.set_yscale("log")
    lat.set_xlabel("round trip, ns")
    lat.set_ylabel("share of round trips slower")
    lat.set_title("32 B round trip (tail on the right)", fontsize=10)
    lat.grid(True, which="both", alpha=0.3)
    lat.legend(fontsize=7)
    bars(small, measured(rows, "stream", 32, "msgs_per_s"), "msgs_per_s", 1e6, "million messages / s",
         "32 B streaming (verified)")
    bars(big, measured(rows, "stream", 1 << 20, "gb_per_s"), "gb_per_s", 1.0, "GB/s", "1 MiB streaming (verified)")
    m = result.get("machine", {})
    fig.suptitle(f"zipc bench {result.get('zipc_version', '')}: {m.get('cpu_model', '?')}, "
                 f"{m.get('online_cpus', '?')} CPUs, {m.get('pinning', '')}, {m.get('date', '')}", fontsize=10)
    fig.tight_layout()
    fig.savefig(out)


def main(argv: list[str]) -> int:
    if len(argv) != 3 or not argv[2].endswith((".svg", ".png")):
        print("usage: plot.py RESULT.json OUT.svg|OUT.png", file=sys.stderr)
        return 2
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("matplotlib is not installed (pip install matplotlib)", file=sys.stderr)
        return 3
    with open(argv[1], encoding="utf-8") as f:
        result = json.load(f)
    draw(result, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
