"""Start-up time of every command's ``--help``, and whether torch was imported.

Run: ``python benchmarks/startup.py [--repeat 3]``. Each command runs in a fresh interpreter
(``python -m simulator.cli CMD --help``) and the best of ``--repeat`` wall times is printed
against the 0.5 s target (``python -c "import nmsim"`` against 0.3 s, and any of torch,
matplotlib, scipy or pandas it imported), with ``python -c pass`` measured in the same run as
the floor (the interpreter's own start-up, which no change here can remove). ``-X importtime``
tells whether torch was imported: it must not be, for ``--help``.

:func:`measure` (for ``benchmarks/check_perf.py``) returns, per command, its ``--help`` time
divided by ``python -c pass`` measured in the same run (``<command>_help_ratio``, lower is
better): how many interpreter start-ups the command costs, whatever the machine; and
``import_nmsim_ratio``, the same for ``python -c "import nmsim"``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

COMMANDS: tuple[tuple[str, ...], ...] = (
    (), ("rwkv-token",), ("trace", "rwkv"), ("trace", "egru"), ("sparsify", "rwkv"),
    ("plot", "breakdown"), ("calibrate",), ("egru-sweep",), ("dvs-gesture",), ("validate",),
)
TARGET_S = 0.5


def best_of(command: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return min(times)


def imports_torch(words: tuple[str, ...]) -> bool:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "simulator.cli", *words,
                          "--help"], capture_output=True, text=True)
    return any(line.rstrip().endswith("| torch") for line in out.stderr.splitlines())


def help_key(words: tuple[str, ...]) -> str:
    return "_".join(("nmsim", *words)).replace("-", "_") + "_help_ratio"


HIGHER_IS_BETTER: set[str] = set()  # every ratio here is a time: lower is better


def measure(repeat: int = 5) -> dict[str, float]:
    """Each command's best ``--help`` wall time over ``python -c pass``'s, same run."""
    floor = best_of([sys.executable, "-c", "pass"], repeat)
    out = {help_key(words): best_of([sys.executable, "-m", "simulator.cli", *words, "--help"],
                                    repeat) / floor
           for words in COMMANDS}
    out["import_nmsim_ratio"] = best_of([sys.executable, "-c", "import nmsim"], repeat) / floor
    return out


def import_heavy(module: str = "nmsim") -> list[str]:
    """The heavy packages ``import nmsim`` pulls in (it must pull in none)."""
    code = (f"import sys, {module}; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    return out.stdout.split()


#: what ``import nmsim`` must not import (each is loaded when its feature is used)
HEAVY = ("torch", "matplotlib", "scipy", "pandas")
#: the wall-time target of ``python -c "import nmsim"``
IMPORT_TARGET_S = 0.3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    floor = best_of([sys.executable, "-c", "pass"], args.repeat)
    print(f"{'python -c pass':32s}{floor:7.2f} s  (the interpreter alone)")
    for words in COMMANDS:
        wall = best_of([sys.executable, "-m", "simulator.cli", *words, "--help"], args.repeat)
        name = "nmsim " + " ".join(words) + " --help"
        verdict = "ok" if wall < TARGET_S else "SLOW"
        torch = ", imports torch" if imports_torch(words) else ""
        print(f"{name:32s}{wall:7.2f} s  {verdict} (target {TARGET_S} s){torch}")
    wall = best_of([sys.executable, "-c", "import nmsim"], args.repeat)
    heavy = import_heavy()
    verdict = "ok" if wall < IMPORT_TARGET_S else "SLOW"
    name = 'python -c "import nmsim"'
    print(f"{name:32s}{wall:7.2f} s  {verdict} (target "
          f"{IMPORT_TARGET_S} s)" + (f", imports {', '.join(heavy)}" if heavy else ""))


if __name__ == "__main__":
    main()
