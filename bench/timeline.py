"""Where a streamed account's time goes: the run's steps, its blocks and the routing's kernels on
one timeline, each on the thread that ran it (a first run's longest chain is the routing,
decision 0010; docs/benchmarks.md).

Usage: ``.venv/bin/python bench/timeline.py [INPUTS] [--cache DIR] [--png PATH]`` with INPUTS a
folder of bench inputs (default: the 4000² inputs ``bench/run.py --size 4000`` writes,
``bench/results/inputs/n4000-s42``).

It runs ``run_account_streamed`` once in this process, as the bench's ``account`` job does (no
routing cache: a first run), or with ``--cache DIR`` through a routing cache in DIR (a first run
that stores its LS when DIR is empty, a rerun after). Times count from this script's start, so
the imports show as the gap before the first span. Printed: every span (start, end, seconds,
thread), then the chain the run waited for: the imports and the metadata, the routing and its
kernels, what came after the routing. ``--png``: the same as a chart, one row per thread.

The spans are taken by wrapping the engine's functions by name for this run
(:data:`SPANS`); nothing in the engine changes. Not a timing test: this machine is shared,
run it by hand (``tests/test_bench.py`` only checks that it still runs).
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # before any import of the engine: the imports are on the timeline

# isort: split
import argparse  # noqa: E402
import functools  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import ecovalue  # noqa: E402, F401  (before numpy, as the command line: its BLAS thread setting)

# isort: split
from ecovalue.accounting import streaming as S  # noqa: E402
from ecovalue.accounting import streaming_blocks as B  # noqa: E402
from ecovalue.raster import hydrology as H  # noqa: E402

DEFAULT_INPUTS = Path(__file__).resolve().parent / "results" / "inputs" / "n4000-s42"

#: (module, function name, label) of every span: the run's steps (streaming), the blocks'
#: tasks (streaming_blocks) and the routing's kernels (hydrology)
SPANS: tuple[tuple[Any, str, str], ...] = (
    (S, "open_meta", "metadata and tables"),
    (S, "_make_plan", "plan"),
    (S, "_regions_key_and_ls", "regions (and cache key / LS read)"),
    (S, "load_kernels", "numba kernels loaded"),
    (S, "_reduce_scan", "scan (waiting for its blocks)"),
    (S, "validate_scan", "validation"),
    (S, "_reduce_pass1", "pass 1 (waiting for its chunks)"),
    (S, "_routing_step", "routing step"),
    (S, "store", "routing cache: store"),
    (S, "_landscape_step", "landscape premium"),
    (S, "dataset_hash", "dataset hash"),
    (B, "scan_block", "scan block"),
    (B, "pass1_chunk", "pass-1 chunk"),
    (B, "scan_pass1_chunk", "scan + pass-1 chunk"),
    (H, "_check_grid", "routing: DEM checked"),
    (H, "_fill_parallel", "routing: depression fill"),
    (H, "_fill", "routing: depression fill"),
    (H, "_flats", "routing: flat resolution"),
    (H, "_mfd_accumulate", "routing: MFD accumulation and LS"),
    (H, "_in_row_bands", "routing: LS pass"),  # D8 (MFD: inside its accumulation)
)


class Recorder:
    """Spans ``(start, end, label, thread)`` in seconds from :data:`T0`, from every wrapped
    function's calls (thread-safe: ``list.append``)."""

    def __init__(self) -> None:
        self.spans: list[tuple[float, float, str, str]] = []
        self._undo: list[tuple[Any, str, Any]] = []

    def wrap(self, module: Any, name: str, label: str) -> None:
        fn = getattr(module, name)

        @functools.wraps(fn)
        def timed(*args: Any, **kw: Any) -> Any:
            start = time.perf_counter() - T0
            try:
                return fn(*args, **kw)
            finally:
                self.spans.append((start, time.perf_counter() - T0, label,
                                   threading.current_thread().name))

        self._undo.append((module, name, fn))
        setattr(module, name, timed)

    def restore(self) -> None:
        for module, name, fn in reversed(self._undo):
            setattr(module, name, fn)
        self._undo.clear()


def _nested(spans: list[tuple[float, float, str, str]]) -> list[tuple[float, float, str, str]]:
    """The spans without those inside another span of the same label on the same thread
    (``_fill_parallel`` calling ``_fill`` on one band; ``_check_grid`` inside ``_flats``)."""
    out = []
    for s in spans:
        if not any(o is not s and o[3] == s[3] and o[2] == s[2] and o[0] <= s[0]
                   and s[1] <= o[1] and (o[0], o[1]) != (s[0], s[1]) for o in spans):
            out.append(s)
    return out


#: The chart's kinds of span: (words of a label, colour, legend), the first match wins (the
#: cache's store is labelled "routing cache: store"); any other span is preparation.
KINDS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("store",), "#8c564b", "缓存写入 cache store"),
    (("routing",), "#1f77b4", "路由 routing"),
    (("block", "chunk"), "#2ca02c", "分块 blocks"),
    (("landscape",), "#9467bd", "景观溢价 landscape premium"),
    ((), "#7f7f7f", "准备 preparation"),
)


def _colour(label: str) -> str:
    return next(c for words, c, _ in KINDS if not words or any(w in label for w in words))


def chart(spans: list[tuple[float, float, str, str]], total: float, path: Path,
          title: str) -> Path:
    """One row per thread, one bar per span, coloured by kind (:data:`KINDS`), drawn with the
    reports' figure helpers (:mod:`ecovalue.reports.fonts`: the CJK font on any machine)."""
    from matplotlib.patches import Patch

    from ecovalue.reports.fonts import figure_png, new_figure

    threads = sorted({s[3] for s in spans}, key=lambda t: min(s[0] for s in spans if s[3] == t))
    fig = new_figure(13, 1.2 + 0.45 * len(threads))
    ax = fig.add_subplot()
    for y, th in enumerate(threads):
        mine = [s for s in spans if s[3] == th]
        for start, end, label, _ in mine:
            # a span that holds others on its thread (the routing step around its kernels) or
            # only waits (the main thread for the blocks): pale, behind, unlabelled
            outer = "waiting" in label or any(
                o[0] >= start and o[1] <= end and o[2] != label for o in mine)
            ax.barh(y, end - start, left=start, height=0.8 if outer else 0.6,
                    color=_colour(label), alpha=0.25 if outer else 1.0, edgecolor="white",
                    linewidth=0.5, zorder=1 if outer else 2)
            if not outer and end - start > 0.04 * total:
                ax.text((start + end) / 2, y, label.replace("routing: ", ""), ha="center",
                        va="center", fontsize=7, color="white", clip_on=True, zorder=3)
    ax.legend(handles=[Patch(color=c, label=t) for _, c, t in KINDS],
              loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=7, frameon=False)
    ax.set_yticks(range(len(threads)), threads, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, total)
    ax.set_xlabel("自进程启动起的秒数  seconds from the process's start (imports before the "
                  "first bar)")
    ax.set_title(title, fontsize=10)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(figure_png(fig, dpi=110))
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("inputs", type=Path, nargs="?", default=DEFAULT_INPUTS)
    ap.add_argument("--cache", type=Path, help="routing cache folder (default: none)")
    ap.add_argument("--routing", choices=("mfd", "d8"), default="mfd")
    ap.add_argument("--png", type=Path, help="write the timeline as a chart here")
    opts = ap.parse_args(argv)
    profile = opts.inputs / f"bench-profile-{opts.routing}.toml"
    if not profile.exists():
        print(f"no bench inputs at {opts.inputs} ({profile.name} missing): write them first "
              "(bench/run.py --size 4000 --no-invest, or give a folder of bench inputs)",
              file=sys.stderr)
        return 2
    import json

    from ecovalue.raster.routing_cache import RoutingCache

    year = int(json.loads((opts.inputs / "inputs.json").read_text()).get("year", 2023))
    rec = Recorder()
    for module, name, label in SPANS:
        rec.wrap(module, name, label)
    try:
        result = S.run_account_streamed(
            opts.inputs, profile=profile, year=year,
            cache=RoutingCache(opts.cache) if opts.cache is not None else None,
        )
    finally:
        rec.restore()
    total = time.perf_counter() - T0
    spans = _nested(sorted(rec.spans))
    kind = ("rerun: the LS from the routing cache" if result.routing_from_cache
            else "first run: routed" + (", the LS stored in the cache" if opts.cache else ""))
    print(f"{opts.inputs.name}: {result.grid.height}×{result.grid.width} pixels, "
          f"{result.n_blocks} blocks; {kind}; {total:.2f} s from the script's start")
    print(f"{'start':>7} {'end':>7} {'seconds':>8}  {'span':<36} thread")
    for start, end, label, th in spans:
        print(f"{start:7.2f} {end:7.2f} {end - start:8.2f}  {label:<36} {th}")
    first = min(s[0] for s in spans)
    print(f"\nbefore the first span (Python, imports): {first:.2f} s")
    routing = [s for s in spans if s[2] == "routing step"]
    if routing:
        r0, r1 = routing[0][0], routing[0][1]
        kernels = sum(e - s for s, e, label, _ in spans if label.startswith("routing: "))
        print(f"routing step: {r0:.2f} → {r1:.2f} s ({r1 - r0:.2f} s; its kernels "
              f"{kernels:.2f} s, the rest reading the DEM and handing the LS over)")
        print(f"after the routing: {total - r1:.2f} s (soil retention, landscape premium, "
              "tables)")
    if opts.png:
        print(f"chart: {chart(spans, total, opts.png, f'{opts.inputs.name}: {kind}')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
