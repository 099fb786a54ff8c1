"""Regenerate docs/gallery/ and docs/gallery.md from the default runs of the jobs.

Run from the repository root: ``python docs/make_gallery.py``. The jobs run through their
command lines (``rwkv-token --out``, ``egru-sweep --out``), exactly as a user would, and the
figures are drawn from the files those write, so the gallery cannot drift from what the
commands produce. Captions quote numbers read from the same files.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from simulator.plots import (
    breakdown_figure,
    load_result,
    load_sweep,
    profile_figure,
    result_critical_path_figure,
    save,
    sweep_figure,
)
from simulator.plots.profile import pick_points

DOCS = Path(__file__).resolve().parent
GALLERY = DOCS / "gallery"


def run_job(args: Sequence[str]) -> float:
    """Run ``nmsim ARGS`` in a fresh interpreter; return its wall time in seconds."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulator.cli", *args], check=True,
                   stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def rwkv_section(work: Path, chip: str) -> list[str]:
    out = work / f"rwkv-{chip}"
    cmd = ["rwkv-token", "--out", str(out)] + (["--chip", chip] if chip != "seneca" else [])
    seconds = run_job(cmd)
    result = load_result(out / "result.json")
    block = {m: result[m]["block"]["total"] for m in ("dense", "sparse")}
    e_ratio = block["dense"]["energy_j"] / block["sparse"]["energy_j"]
    t_ratio = block["dense"]["latency_s"] / block["sparse"]["latency_s"]
    figures = [
        (f"rwkv-{chip}-energy.png", breakdown_figure(result),
         "Energy of one token through one block, by category per sub-block (left) and the "
         "operations that cost most (right)."),
        (f"rwkv-{chip}-energy-percent.png", breakdown_figure(result, percent=True),
         "The same as shares of each bar's total: how the mix of categories shifts when the "
         "model is sparse."),
        (f"rwkv-{chip}-latency.png", breakdown_figure(result, metric="latency"),
         "Latency by category per sub-block (left); cycles charged per operation, summed over "
         "every unit that worked in parallel (right)."),
        (f"rwkv-{chip}-sites.png", breakdown_figure(result, by="site"),
         "Energy per site (the input of each linear layer, plus element-wise parts)."),
        *((f"rwkv-{chip}-critical-path-{sub}.png", result_critical_path_figure(result, sub),
           f"The chain of dependent events that sets the {sub.replace('_', '-')} latency "
           "(first token of the sparse run): which role each step ran on, and what it paid "
           "for.") for sub in ("time_mix", "channel_mix")),
    ]
    lines = [
        f"## RWKV block, one token on {chip} (`nmsim {' '.join(cmd[:1] + cmd[3:])}`)", "",
        f"Whole block: dense {_si(block['dense']['energy_j'], 'J')}, sparse "
        f"{_si(block['sparse']['energy_j'], 'J')} ({e_ratio:.3g}x less energy); latency "
        f"dense {_si(block['dense']['latency_s'], 's')}, sparse "
        f"{_si(block['sparse']['latency_s'], 's')} ({t_ratio:.3g}x). Job wall time "
        f"{seconds:.1f} s.", "",
    ]
    return lines + _write(figures)


def egru_section(work: Path, pes: str | None, steps: int | None) -> list[str]:
    out = work / "egru"
    cmd = ["egru-sweep", "--out", str(out)]
    cmd += ["--pes", pes] if pes else []
    cmd += ["--steps", str(steps)] if steps else []
    seconds = run_job(cmd)
    points = load_sweep(out / "sweep.csv")
    detailed = json.loads((out / "sweep.json").read_text())
    fit = sorted({p["pes"] for p in points if p["fits"]})
    best = pick_points(detailed)[0]
    figures = [
        ("egru-sweep.png", sweep_figure(points),
         "Latency and energy per timestep, and the bytes of the fullest PE, against the number "
         "of PEs N; hollow markers do not fit in SRAM, the shaded N fit with no strategy."),
        ("egru-profile.png", profile_figure(detailed),
         f"Per-PE profile at N = {best['pes']}, the feasible N with the lowest latency: where "
         "each PE spends the cycles of a timestep, and how long it waits for the slowest."),
    ]
    smallest = [p for p in detailed if p["pes"] == fit[0]] if fit else []
    if smallest and fit[0] != best["pes"]:
        figures.append(
            ("egru-profile-smallest.png", profile_figure(detailed, pes=fit[0]),
             f"Per-PE profile at N = {fit[0]}, the fewest PEs that fit.")
        )
    range_note = (f"a reduced range of N ({pes})" if pes else "the default range of N")
    lines = [
        f"## EGRU sweep on SpiNNaker2 (`nmsim {' '.join(cmd[:1] + cmd[3:])}`)", "",
        f"Paper-size model over {range_note}"
        + (f", {steps} timesteps" if steps else "") + ". "
        + (f"The smallest N that fits is {fit[0]}. " if fit else "No N fits. ")
        + f"Job wall time {seconds:.1f} s.", "",
    ]
    return lines + _write(figures)


def dvs_section(work: Path) -> list[str]:
    out = work / "dvs"
    cmd = ["dvs-gesture", "--pes", "48,128", "--out", str(out)]
    seconds = run_job(cmd)
    from simulator.plots import dvs_breakdown_figure
    from simulator.results import load_result

    points = load_result(out / "dvs.json", json.loads((out / "dvs.json").read_text()))
    figures = [(f"dvs-breakdown-{p.pes}.png", dvs_breakdown_figure(p),
                f"Energy of one DVS-gesture sample on {p.pes} PEs"
                + (" (the fewest that hold it)" if p.pes == p.fewest_pes_that_fit else
                   " (the paper's)")
                + ", by EGRU layer and stage (left) and by operation (right); synthetic "
                "events at the published size.") for p in points]
    lines = [f"## DVS gesture on SpiNNaker2 (`nmsim {' '.join(cmd[:3])}`)", "",
             f"Batch 1 of {points[0].frames} frames. Job wall time {seconds:.1f} s.", ""]
    return lines + _write(figures)


def opt_section(work: Path) -> list[str]:
    out, sweep = work / "opt", work / "context"
    seconds = run_job(["opt-token", "--out", str(out)])
    sweep_seconds = run_job(["context-sweep", "--out", str(sweep)])
    result = load_result(out / "result.json")
    layer = {m: result[m]["block"]["total"] for m in ("dense", "sparse")}
    from simulator.jobs.context_sweep import broadcast
    from simulator.plots.context_sweep import context_figure

    rows = broadcast(json.loads((sweep / "sweep.json").read_text()))
    streamed = sorted({r["context"] for r in rows if r["model"] == "opt" and r["kv_streamed"]})
    figures = [
        ("opt-seneca-energy.png", breakdown_figure(result),
         "Energy of one token through one OPT-2.7B decoder layer at context 1024, by category "
         "per sub-block (left) and by operation (right)."),
        ("opt-seneca-sites.png", breakdown_figure(result, by="site"),
         "Energy per site: the four linear layers, attention's scores, softmax, weighted sum, "
         "combine and cache, and the element-wise stages."),
        ("opt-seneca-critical-path-attention.png",
         result_critical_path_figure(result, "attention"),
         "The chain of dependent events that sets the attention latency (first token of the "
         "sparse run)."),
        ("context-sweep.png", context_figure(rows),
         "Energy and latency per token against context length: the OPT-2.7B layer's grow with "
         "the KV cache (shaded: streamed from off-chip memory), the RWKV-4 3B block's do not."),
    ]
    lines = [
        "## OPT decoder layer and the context sweep on seneca (`nmsim opt-token`, "
        "`nmsim context-sweep`)", "",
        f"Layer at L = 1024: dense {_si(layer['dense']['energy_j'], 'J')}, sparse "
        f"{_si(layer['sparse']['energy_j'], 'J')}; latency dense "
        f"{_si(layer['dense']['latency_s'], 's')}, sparse {_si(layer['sparse']['latency_s'], 's')}."
        + (f" The KV cache is streamed from L = {streamed[0]}." if streamed else "")
        + f" Job wall times {seconds:.1f} s and {sweep_seconds:.1f} s.", "",
    ]
    return lines + _write(figures)


def _write(figures: list) -> list[str]:
    lines = []
    for name, fig, caption in figures:
        save(fig, GALLERY / name)
        lines += [f"![{caption}](gallery/{name})", "", f"*{caption}*", ""]
    return lines


def _si(value: float, unit: str) -> str:
    for scale, prefix in ((1, ""), (1e-3, "m"), (1e-6, "µ"), (1e-9, "n")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value / 1e-12:.3g} p{unit}"


#: the sections, in the page's order: (name, heading prefix)
SECTIONS = (("rwkv", "## RWKV block"), ("egru", "## EGRU sweep"), ("dvs", "## DVS gesture"),
            ("opt", "## OPT decoder layer"))


def _keep(old: str, names: set[str]) -> dict[str, list[str]]:
    """The sections of an existing gallery.md that are not regenerated, by name."""
    out: dict[str, list[str]] = {}
    current = None
    for line in old.splitlines():
        if line.startswith("## "):
            current = next((n for n, prefix in SECTIONS if line.startswith(prefix)), None)
        if current is not None and current not in names:
            out.setdefault(current, []).append(line)
    for lines in out.values():  # each section ends with a blank line, as written
        if lines[-1]:
            lines.append("")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pes", help="N for the EGRU sweep (default: the job's default range)")
    parser.add_argument("--steps", type=int, help="timesteps per EGRU point (default: job's)")
    parser.add_argument("--chips", nargs="+", default=["seneca", "spinnaker2"],
                        help="chips for the RWKV job")
    parser.add_argument("--only", nargs="+", choices=[n for n, _ in SECTIONS],
                        help="regenerate only these sections, keeping the others as they are")
    args = parser.parse_args(argv)
    GALLERY.mkdir(exist_ok=True)
    names = set(args.only or [n for n, _ in SECTIONS])
    page = DOCS / "gallery.md"
    kept = _keep(page.read_text(), names) if args.only and page.exists() else {}
    lines = [
        "# Gallery", "",
        "Figures of the default runs of the jobs, generated by `python docs/make_gallery.py` "
        "(do not edit by hand: rerun the script). Category colours are the same in every "
        "figure: computation blue, memory orange, communication green, control purple, static "
        "grey. Dense bars are hatched, sparse bars solid.", "",
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for name, _ in SECTIONS:
            if name not in names:
                lines += kept.get(name, [])
            elif name == "rwkv":
                for chip in args.chips:
                    lines += rwkv_section(Path(tmp), chip)
            elif name == "egru":
                lines += egru_section(Path(tmp), args.pes, args.steps)
            elif name == "dvs":
                lines += dvs_section(Path(tmp))
            else:
                lines += opt_section(Path(tmp))
    page.write_text("\n".join(lines))
    print(f"wrote {page} and {len(list(GALLERY.glob('*.png')))} figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
