"""Every ``nmsim`` command in README.md and docs/ is valid as written (issue 16, item 4).

Each command shown in a fenced code block is checked three ways:

- it parses with the real argument parser (a renamed flag or a removed choice fails here);
- every input file it names exists in the repository, is written by an earlier command of
  the same page, or the line says it needs the reader's own file (a comment with "your" or
  "own", together with the command that makes a stand-in somewhere on the page: the test
  checks the page has one for that kind of file);
- the commands listed in :data:`RUN` run end to end as written, in a scratch directory, on
  the inputs the page told the reader to make first (commands too slow for the suite are run
  by the job tests on small inputs, and parsed here).

``docs/errors.md`` shows commands that are meant to fail; the bad-input tests run those.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

from simulator.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SKIP_PAGES = {"errors.md"}  # commands there demonstrate errors (tests/test_bad_inputs.py)
#: options whose value is a file the command reads (when the value looks like a file)
INPUT_OPTIONS = {"trace", "dense_trace", "thresholds", "tokenizer", "text_file", "text",
                 "checkpoint", "chip", "model", "result", "sweep"}
OUTPUT_OPTIONS = {"out", "output", "timeline", "profile_out"}
FILE = re.compile(r".+\.(npz|pth|pt|json|yaml|yml|txt|csv)$")
#: what makes a stand-in for each kind of reader's file (one must appear on the page)
STAND_INS = {".npz": "nmsim trace", ".pth": "nmsim", ".pt": "nmsim", ".json": "nmsim",
             ".yaml": "calibration/", ".txt": "", ".csv": "nmsim egru-sweep"}


@dataclass(frozen=True)
class DocCommand:
    page: Path
    line: int
    argv: tuple[str, ...]
    comment: str

    def __str__(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}: nmsim {' '.join(self.argv)}"


def doc_commands() -> list[DocCommand]:
    out = []
    for page in PAGES:
        if page.name in SKIP_PAGES:
            continue
        lines = page.read_text().splitlines()
        in_block, i = False, 0
        while i < len(lines):
            text = lines[i]
            if text.lstrip().startswith("```"):
                in_block = not in_block
                i += 1
                continue
            start = i
            if in_block and re.match(r"\s*(\$ )?nmsim\s", text):
                cmd = text
                while cmd.rstrip().endswith("\\") and i + 1 < len(lines):
                    i += 1
                    cmd = cmd.rstrip()[:-1] + " " + lines[i]
                words = shlex.split(cmd, comments=False)
                comment = ""
                if "#" in words:
                    k = words.index("#")
                    words, comment = words[:k], " ".join(words[k + 1:])
                else:
                    for k, w in enumerate(words):
                        if w.startswith("#"):
                            words, comment = words[:k], " ".join(words[k:])[1:]
                            break
                words = [w for w in words if w != "$"]
                if words[0] == "nmsim" and "&&" not in words and "|" not in words:
                    out.append(DocCommand(page, start + 1, tuple(words[1:]), comment.strip()))
            i += 1
    return out


COMMANDS = doc_commands()


def _parse(cmd: DocCommand):
    argv = list(cmd.argv)
    if not argv or argv[0] in ("-h", "--help") or "--help" in argv:
        return None
    return build_parser(argv).parse_args(argv)


def test_the_docs_show_commands():
    assert len(COMMANDS) >= 30, [str(c) for c in COMMANDS]


@pytest.mark.parametrize("cmd", COMMANDS, ids=str)
def test_command_parses(cmd: DocCommand):
    try:
        _parse(cmd)
    except SystemExit as exc:  # argparse's way of rejecting an argument
        pytest.fail(f"{cmd}: rejected by the parser (exit {exc.code})")


def _files(args, names: set[str]) -> list[str]:
    found = []
    for name in names:
        value = getattr(args, name, None)
        for v in value if isinstance(value, list) else [value]:
            if v is not None and FILE.match(str(v)):
                found.append(str(v))
    return found


@pytest.mark.parametrize("page", sorted({c.page for c in COMMANDS}), ids=lambda p: p.name)
def test_input_files_exist_or_are_made_first_or_marked(page: Path):
    made: set[str] = set()
    problems = []
    text = page.read_text()
    for cmd in (c for c in COMMANDS if c.page == page):
        args = _parse(cmd)
        if args is None:
            continue
        for f in _files(args, INPUT_OPTIONS):
            if (ROOT / f).exists() or f in made or any(f.startswith(m.rstrip("/") + "/")
                                                       for m in made):
                continue
            marked = re.search(r"\b(your|own)\b", cmd.comment, re.I)
            stand_in = STAND_INS.get(Path(f).suffix, "nmsim")
            if not marked:
                problems.append(f"{cmd}: reads {f}, which is not in the repository, not "
                                "written by an earlier command here, and not marked as "
                                "the reader's own file")
            elif stand_in and stand_in not in text:
                problems.append(f"{cmd}: reads the reader's {f}; the page shows no command "
                                f"that makes a stand-in ({stand_in} ...)")
        made.update(str(p) for p in _files(args, OUTPUT_OPTIONS))
        made.update(str(getattr(args, k)) for k in OUTPUT_OPTIONS if getattr(args, k, None))
    assert not problems, "\n".join(problems)


#: commands run end to end as written (page, the command's words), in page order, in one
#: scratch directory per page: each fast enough for the suite; the others are parsed above and
#: their jobs run by the job tests on small inputs
RUN: dict[str, list[str]] = {
    "egru-sweep.md": ["trace egru --model paper --steps 8 -o my_trace.npz",
                      "egru-sweep --trace my_trace.npz --pes 150"],
    "egru-workload.md": ["trace egru", "trace egru --model paper --steps 8 -o paper.npz"],
    "rwkv-token.md": [
        "trace rwkv --synthetic --profile published-3b-sparse --tokens 2 --out sparse.npz",
        "trace rwkv --synthetic --profile published-3b-dense --tokens 2 --out dense.npz",
        "rwkv-token --trace sparse.npz --dense-trace dense.npz"],
    "timelines.md": ["egru-sweep --pes 150 --steps 2 --timeline egru.json"],
}


@pytest.mark.parametrize("page", sorted(RUN), ids=str)
def test_commands_run_as_written(page: str, tmp_path, monkeypatch, capsys):
    from simulator.cli import main

    shown = {" ".join(c.argv) for c in COMMANDS if c.page.name == page}
    monkeypatch.chdir(tmp_path)
    for line in RUN[page]:
        assert line in shown, f"docs/{page} no longer shows `nmsim {line}`"
        assert main(shlex.split(line)) == 0, f"docs/{page}: nmsim {line}"
    capsys.readouterr()
