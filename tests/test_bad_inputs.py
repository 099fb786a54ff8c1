"""Bad input gets a clear error (issue 14, docs/errors.md "Input checks"): every command, every
input file type. Each case runs ``nmsim`` in-process and asserts exit status 2, a message on
stderr that names the problem, no traceback, and no output file left behind."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.argtypes import (
    ArgumentUserError,
    finite_float,
    int_at_least,
    parse_pes,
)
from simulator.cli import BUG_REPORT, main
from simulator.errors import UserError
from workloads.trace import Trace, TraceError

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "models" / "artifacts"


# -- the bad files, made once ----------------------------------------------------------------
def _corrupt(good: bytes, d: Path, stem: str, suffix: str) -> None:
    (d / f"{stem}-truncated{suffix}").write_bytes(good[: len(good) // 2])
    (d / f"{stem}-random{suffix}").write_bytes(np.random.default_rng(1).bytes(2000))
    (d / f"{stem}-empty{suffix}").write_bytes(b"")
    flipped = bytearray(good)  # compressed data damaged in the middle, the zip index intact
    for i in range(len(good) // 3, len(good) // 3 + 64):
        flipped[i] ^= 0xFF
    (d / f"{stem}-flipped{suffix}").write_bytes(bytes(flipped))


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> Path:
    import torch

    from workloads.egru_trace import synthetic_egru_trace
    from workloads.rwkv_synthetic import synthetic_rwkv_trace

    d = tmp_path_factory.mktemp("bad")
    # traces: good, then truncated / random / empty / flipped bytes / NaN values
    for stem, trace in (("egru", synthetic_egru_trace((12, 16, 16), 0.5, activity=0.3, steps=2,
                                                      seed=1)),
                        ("rwkv", synthetic_rwkv_trace("169M", "published-3b-sparse",
                                                      n_tokens=1))):
        trace.save(d / f"{stem}.npz")
        _corrupt((d / f"{stem}.npz").read_bytes(), d, stem, ".npz")
        site = trace.sites[1].name
        trace.events[site].values[0] = np.nan
        trace.save(d / f"{stem}-nan.npz")
    np.save(d / "single.npy", np.zeros(3))
    shutil.move(d / "single.npy", d / "single.npz")

    # EGRU checkpoints (the shipped tiny one, broken in each way)
    src = ARTIFACTS / "egru_tiny.pt"
    _corrupt(src.read_bytes(), d, "egru", ".pt")

    def egru(name: str, change) -> None:
        with warnings.catch_warnings():  # "sparse CSR tensor support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            ck = torch.load(src, weights_only=True)
        change(ck)
        torch.save(ck, d / f"egru-{name}.pt")

    egru("missing-key", lambda ck: ck["state_dict"].pop("decoder_bias"))
    egru("extra-key", lambda ck: ck["state_dict"].__setitem__("extra.weight", torch.zeros(2)))
    egru("extra-config", lambda ck: ck["config"].__setitem__("hidden_dropout", 0.1))
    egru("nan", lambda ck: ck["state_dict"].__setitem__(
        "decoder_bias", torch.full_like(ck["state_dict"]["decoder_bias"], float("nan"))))
    egru("inf", lambda ck: ck["state_dict"].__setitem__(
        "embedding.weight", ck["state_dict"]["embedding.weight"] / 0))
    egru("no-format", lambda ck: ck.pop("format"))
    egru("bad-config", lambda ck: ck["config"].__setitem__("layers", (128, 128, 63)))

    # RWKV checkpoints (the shipped tiny one)
    rsrc = ARTIFACTS / "rwkv_tiny.pth"
    _corrupt(rsrc.read_bytes(), d, "rwkv", ".pth")
    sd = torch.load(rsrc, weights_only=True)
    torch.save({**sd, "blocks.0.att.key.weight": sd["blocks.0.att.key.weight"] * float("nan")},
               d / "rwkv-nan.pth")
    torch.save({k: v for k, v in sd.items() if k != "blocks.0.ln1.weight"},
               d / "rwkv-missing-key.pth")

    # thresholds files
    th = json.loads((ARTIFACTS / "rwkv_tiny_thresholds.json").read_text())
    (d / "th-layers.json").write_text(json.dumps({**th, "n_layer": th["n_layer"] + 2}))
    (d / "th-embd.json").write_text(json.dumps({**th, "n_embd": th["n_embd"] * 2}))
    site = next(iter(th["thresholds"]))
    (d / "th-nan.json").write_text(json.dumps({**th, "thresholds": {site: float("nan")}}))
    (d / "th-negative.json").write_text(json.dumps({**th, "thresholds": {site: -0.5}}))
    (d / "th-format.json").write_text(json.dumps({**th, "format": "something-else"}))
    (d / "th-broken.json").write_text(json.dumps(th)[:100])

    # chip description files
    s2 = (ROOT / "calibration" / "spinnaker2.yaml").read_text()
    for name, value in (("negative", "-1"), ("nan", ".nan"), ("inf", ".inf")):
        (d / f"s2-{name}.yaml").write_text(s2.replace("value: 13.686", f"value: {value}", 1))
    seneca = (ROOT / "calibration" / "seneca.yaml").read_text()
    (d / "seneca-no-kind.yaml").write_text(seneca.replace("kind: seneca", "", 1))
    (d / "broken.yaml").write_text("kind: [seneca\n")
    (d / "list.yaml").write_text("- 1\n- 2\n")

    # text files and result files of other commands
    (d / "binary.txt").write_bytes(b"\xff\xfe\x00\x81" * 50)
    (d / "empty.txt").write_text("")
    (d / "unknown-chars.txt").write_text("日本語のテキスト" * 20, "utf-8")
    (d / "result.json").write_text('{"not": "a result"}')
    (d / "notjson.json").write_text("{")
    (d / "sweep.csv").write_text("a,b\n1,2\n")
    return d


# -- the cases --------------------------------------------------------------------------------
#: (command line with {bad} for the bad-files folder and {out} for an output path, a piece of
#: text the message must hold); {out} never exists afterwards
CASES: list[tuple[str, str]] = [
    # rwkv-token
    ("rwkv-token --tokens 0 --out {out}", "--tokens"),
    ("rwkv-token --tokens many --out {out}", "--tokens"),
    ("rwkv-token --block -1 --out {out}", "--block"),
    ("rwkv-token --workers 0 --out {out}", "--workers"),
    ("rwkv-token --timeline {out}/t.json --timeline-max-spans 0", "--timeline-max-spans"),
    ("rwkv-token --timeline {out}/t.json --timeline-window 9:3", "--timeline-window"),
    ("rwkv-token --trace {bad}/missing.npz --out {out}", "no such trace file"),
    ("rwkv-token --trace {bad}/rwkv-truncated.npz --out {out}", "rwkv-truncated.npz"),
    ("rwkv-token --trace {bad}/rwkv-random.npz --out {out}", "rwkv-random.npz"),
    ("rwkv-token --trace {bad}/rwkv-empty.npz --out {out}", "rwkv-empty.npz"),
    ("rwkv-token --trace {bad}/rwkv-flipped.npz --out {out}", "corrupted"),
    ("rwkv-token --trace {bad}/rwkv-nan.npz --out {out}", "step 0"),
    ("rwkv-token --trace {bad}/single.npz --out {out}", "not an .npz archive"),
    ("rwkv-token --trace {bad}/rwkv.npz --dense-trace {bad}/rwkv-nan.npz --out {out}",
     "rwkv-nan.npz"),
    ("rwkv-token --trace {bad}/rwkv.npz --model tiny --out {out}", "not both"),
    ("rwkv-token --trace {bad}/egru.npz --out {out}", "needs an RWKV trace"),
    ("rwkv-token --model models/artifacts/rwkv_tiny.pth --thresholds "
     "models/artifacts/rwkv_tiny_thresholds.json --tokenizer bogus --out {out}", "--tokenizer"),
    ("rwkv-token --dense-trace {bad}/rwkv.npz --out {out}", "--dense-trace"),
    ("rwkv-token --model {bad}/missing.pth --out {out}", "--model"),
    ("rwkv-token --model 3B --block 2 --out {out}", "one block"),
    ("rwkv-token --chip nosuchchip --out {out}", "nosuchchip"),
    ("rwkv-token --chip {bad}/seneca-no-kind.yaml --out {out}", "'kind'"),
    ("rwkv-token --chip {bad}/broken.yaml --out {out}", "not valid YAML"),
    ("rwkv-token --chip {bad}/list.yaml --out {out}", "mapping"),
    ("rwkv-token --chip {bad}/missing.yaml --out {out}", "no such chip description"),
    ("rwkv-token --set noc.clock=-1 --out {out}", "noc.clock"),
    ("rwkv-token --set noc.hop_energy=.nan --out {out}", "finite"),
    ("rwkv-token --set noc.no_such_field=1 --out {out}", "no_such_field"),
    ("rwkv-token --set noc.clock --out {out}", "dotted.path=value"),
    ("rwkv-token --option precision=fp64 --out {out}", "precision"),
    ("rwkv-token --option novalue --out {out}", "KEY=VALUE"),
    ("rwkv-token --strategy diagonal --out {out}", "--strategy"),
    ("rwkv-token --model {bad}/rwkv-nan.pth --thresholds "
     "models/artifacts/rwkv_tiny_thresholds.json --tokenizer char --out {out}",
     "blocks.0.att.key.weight"),
    ("rwkv-token --model {bad}/rwkv-random.pth --thresholds "
     "models/artifacts/rwkv_tiny_thresholds.json --tokenizer char --out {out}", "rwkv-random"),
    ("rwkv-token --model models/artifacts/rwkv_tiny.pth --thresholds {bad}/th-broken.json "
     "--tokenizer char --out {out}", "th-broken.json"),
    ("rwkv-token --model tiny --text-file {bad}/binary.txt --out {out}", "UTF-8"),
    ("rwkv-token --model models/artifacts/rwkv_tiny.pth --thresholds {bad}/th-layers.json "
     "--tokenizer char --out {out}", "n_layer=6 but the model has n_layer=4"),
    # trace rwkv
    ("trace rwkv --out {out}/t.npz --tokens 0", "--tokens"),
    ("trace rwkv --out {out}/t.npz --skip -1", "--skip"),
    ("trace rwkv --out {out}/t.npz --synthetic --n-blocks 0", "--n-blocks"),
    ("trace rwkv --out {out}/t.npz --synthetic --size 7B", "--size"),
    ("trace rwkv --out {out}/t.npz --synthetic --profile {bad}/missing.json", "missing.json"),
    ("trace rwkv --out {out}/t.npz --synthetic --profile {bad}/notjson.json", "notjson.json"),
    ("trace rwkv --out {out}/t.npz --checkpoint {bad}/missing.pth", "no such checkpoint"),
    ("trace rwkv --out {out}/t.npz --checkpoint {bad}/rwkv-truncated.pth", "rwkv-truncated"),
    ("trace rwkv --out {out}/t.npz --checkpoint {bad}/rwkv-empty.pth", "rwkv-empty"),
    ("trace rwkv --out {out}/t.npz --checkpoint {bad}/rwkv-nan.pth --text-file "
     "models/data/SOURCE.md --tokenizer char", "blocks.0.att.key.weight"),
    ("trace rwkv --out {out}/t.npz --checkpoint {bad}/rwkv-missing-key.pth",
     "blocks.0.ln1.weight"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/th-layers.json", "n_layer"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/th-embd.json", "n_embd"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/th-nan.json", "finite"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/th-negative.json", ">= 0"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/th-format.json", "format"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/th-broken.json", "th-broken.json"),
    ("trace rwkv --out {out}/t.npz --thresholds {bad}/missing.json", "no such thresholds"),
    ("trace rwkv --out {out}/t.npz --text-file {bad}/missing.txt", "no such file"),
    ("trace rwkv --out {out}/t.npz --text-file {bad}/empty.txt", "empty"),
    ("trace rwkv --out {out}/t.npz --blocks 9", "blocks"),
    ("trace rwkv --out {out}/t.npz --checkpoint models/artifacts/rwkv_tiny.pth --text-file "
     "models/data/SOURCE.md --tokenizer {bad}/notjson.json", "tokenizer.json"),
    # trace egru
    ("trace egru --steps 0 -o {out}/t.npz", "--steps"),
    ("trace egru --call-steps 0 -o {out}/t.npz", "--call-steps"),
    ("trace egru --model paper --sparsity 1.5 -o {out}/t.npz", "--sparsity"),
    ("trace egru --model paper --sparsity nan -o {out}/t.npz", "--sparsity"),
    ("trace egru --model paper --activity nope -o {out}/t.npz", "nope"),
    ("trace egru --model paper --activity 1.5 -o {out}/t.npz", "1.5"),
    ("trace egru --model paper --activity nan -o {out}/t.npz", "nan"),
    ("trace egru --model paper --activity {bad}/notjson.json -o {out}/t.npz", "notjson.json"),
    ("trace egru --model paper --activity {bad}/result.json -o {out}/t.npz", "'activity'"),
    ("trace egru --model {bad}/missing.pt -o {out}/t.npz", "no such EGRU checkpoint"),
    ("trace egru --model {bad}/egru-missing-key.pt -o {out}/t.npz", "decoder_bias"),
    ("trace egru --model {bad}/egru-extra-key.pt -o {out}/t.npz", "extra.weight"),
    ("trace egru --model {bad}/egru-extra-config.pt -o {out}/t.npz", "hidden_dropout"),
    ("trace egru --model {bad}/egru-bad-config.pt -o {out}/t.npz", "embedding_dim"),
    ("trace egru --model {bad}/egru-no-format.pt -o {out}/t.npz", "format"),
    ("trace egru --model {bad}/egru-truncated.pt -o {out}/t.npz", "egru-truncated.pt"),
    ("trace egru --model {bad}/egru-random.pt -o {out}/t.npz", "egru-random.pt"),
    ("trace egru --model {bad}/egru-empty.pt -o {out}/t.npz", "egru-empty.pt"),
    ("trace egru --model {bad}/egru-flipped.pt -o {out}/t.npz", "egru-flipped.pt"),
    ("trace egru --model {bad}/egru-nan.pt -o {out}/t.npz", "decoder_bias"),
    ("trace egru --model {bad}/egru-inf.pt -o {out}/t.npz", "embedding.weight"),
    ("trace egru --text {bad}/missing.txt -o {out}/t.npz", "--text"),
    ("trace egru --text {bad}/binary.txt -o {out}/t.npz", "UTF-8"),
    ("trace egru --text {bad}/unknown-chars.txt -o {out}/t.npz", "vocabulary"),
    # sparsify rwkv
    ("sparsify rwkv --loss-inc 1 -o {out}/th.json", "--loss-inc"),
    ("sparsify rwkv --loss-inc -1 -o {out}/th.json", "--loss-inc"),
    ("sparsify rwkv --loss-inc inf -o {out}/th.json", "--loss-inc"),
    ("sparsify rwkv --loss-inc x -o {out}/th.json", "--loss-inc"),
    ("sparsify rwkv --init-windows 0 -o {out}/th.json", "--init-windows"),
    ("sparsify rwkv --ctx-len 0 -o {out}/th.json", "--ctx-len"),
    ("sparsify rwkv --eval-windows -1 -o {out}/th.json", "--eval-windows"),
    ("sparsify rwkv --ctx-len 100000000 -o {out}/th.json", "tokens"),
    ("sparsify rwkv --checkpoint {bad}/rwkv-random.pth -o {out}/th.json", "rwkv-random"),
    ("sparsify rwkv --checkpoint models/artifacts/rwkv_tiny.pth -o {out}/th.json",
     "--text-file"),
    ("sparsify rwkv --text-file {bad}/missing.txt -o {out}/th.json", "--text-file"),
    ("sparsify rwkv --rejected-site maybe -o {out}/th.json", "--rejected-site"),
    # egru-sweep
    ("egru-sweep --pes 150,60:30:10 --out {out}", "60:30:10"),
    ("egru-sweep --pes 0 --out {out}", "--pes"),
    ("egru-sweep --pes 1:10:0 --out {out}", "STEP"),
    ("egru-sweep --pes 3,,4 --out {out}", "empty item"),
    ("egru-sweep --pes sixty --out {out}", "sixty"),
    ("egru-sweep --pes 1:200000 --out {out}", "--yes"),
    ("egru-sweep --pes 20000 --out {out}", "20,000 cores"),
    ("egru-sweep --model tiny --trace {bad}/egru.npz --out {out}", "not both"),
    ("egru-sweep --trace {bad}/missing.npz --out {out}", "no such trace file"),
    ("egru-sweep --trace {bad}/egru-truncated.npz --out {out}", "egru-truncated.npz"),
    ("egru-sweep --trace {bad}/egru-flipped.npz --out {out}", "corrupted"),
    ("egru-sweep --trace {bad}/egru-random.npz --out {out}", "egru-random.npz"),
    ("egru-sweep --trace {bad}/rwkv.npz --out {out}", "needs an EGRU trace"),
    ("egru-sweep --trace {bad}/egru-nan.npz --out {out}", "'layer0.R': event value nan at step 1"),
    ("egru-sweep --model {bad}/missing.pt --out {out}", "--model"),
    ("egru-sweep --model {bad}/egru-nan.pt --out {out}", "decoder_bias"),
    ("egru-sweep --model {bad}/egru-truncated.pt --out {out}", "egru-truncated.pt"),
    ("egru-sweep --steps 0 --out {out}", "--steps"),
    ("egru-sweep --workers -1 --out {out}", "--workers"),
    ("egru-sweep --strategy diagonal --out {out}", "--strategy"),
    ("egru-sweep --layer-split random --out {out}", "--layer-split"),
    ("egru-sweep --set operating_points.0.8V.pe_cycle_energy=-1 --out {out}", ">= 0"),
    ("egru-sweep --set pe_cycle_energy=-1 --out {out}", "operating_points.0.8V.pe_cycle_energy"),
    ("egru-sweep --set operating_points.0.5V.pe_sleep_power=.inf --out {out}", "finite"),
    ("egru-sweep --chip {bad}/s2-negative.yaml --out {out}", "pe_cycle_energy"),
    ("egru-sweep --chip {bad}/s2-nan.yaml --out {out}", "pe_cycle_energy"),
    ("egru-sweep --chip {bad}/s2-inf.yaml --out {out}", "finite"),
    ("egru-sweep --timeline {out}/t.json --timeline-max-spans 0", "--timeline-max-spans"),
    # plot
    ("plot breakdown {bad}/missing.json -o {out}/b.png", "missing.json"),
    ("plot breakdown {bad}/notjson.json -o {out}/b.png", "notjson.json"),
    ("plot breakdown {bad}/result.json -o {out}/b.png", "result.json"),
    ("plot breakdown {bad}/result.json --top 0 -o {out}/b.png", "--top"),
    ("plot sweep {bad}/sweep.csv -o {out}/s.png", "sweep.csv"),
    ("plot sweep {bad}/missing.csv -o {out}/s.png", "missing.csv"),
    ("plot profile {bad}/notjson.json -o {out}/p.png", "notjson.json"),
    ("plot profile {bad}/notjson.json --pes 0 -o {out}/p.png", "--pes"),
    ("plot critical-path {bad}/result.json -o {out}/c.png", "result.json"),
    ("plot sweep {bad}/sweep.csv -o {out}/s.bmpx", "format"),
    # validate, calibrate
    ("validate --tokens 0 --out {out}", "--tokens"),
    ("validate --steps 1 --out {out}", "--steps"),
    ("validate --only nothing --out {out}", "--only"),
    ("calibrate --no-such-flag", "--no-such-flag"),
    # dvs-gesture
    ("dvs-gesture --pes 0 --out {out}", "--pes"),
    ("dvs-gesture --pes 1 --out {out}", "at least"),
    ("dvs-gesture --pes 1:200000 --out {out}", "--yes"),
    ("dvs-gesture --frames 0 --out {out}", "--frames"),
    ("dvs-gesture --batch 0 --out {out}", "--batch"),
    ("dvs-gesture --activity 1.5 --out {out}", "--activity"),
    ("dvs-gesture --activity nan --out {out}", "--activity"),
    ("dvs-gesture --model huge --out {out}", "--model"),
    ("dvs-gesture --model tiny --activity 0.2 --frames 1 --out {out}", "--activity"),
    ("dvs-gesture --out /proc/nmsim-x", "--out"),
    ("dvs-gesture --chip {bad}/missing.yaml --out {out}", "missing.yaml"),
    ("plot dvs-breakdown {bad}/missing.json -o {out}/d.png", "missing.json"),
    ("plot dvs-breakdown {bad}/result.json -o {out}/d.png", "dvs.json"),
    ("plot dvs-breakdown {bad}/result.json --top 0 -o {out}/d.png", "--top"),
]


def _run(argv: list[str], capsys) -> tuple[int, str]:
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse: usage and error
        rc = e.code
    return rc, capsys.readouterr().err


@pytest.mark.parametrize("line,says", CASES, ids=[c[0].split(" --out")[0].split(" -o ")[0]
                                                  for c in CASES])
def test_bad_input_is_a_clear_error(line, says, bad, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)  # the shipped files given by relative path
    out = tmp_path / "out"
    argv = line.format(bad=bad, out=out).split()
    rc, err = _run(argv, capsys)
    assert rc == 2, f"exit status {rc}; stderr: {err}"
    assert "Traceback" not in err, err
    assert BUG_REPORT not in err
    assert says.lower() in err.lower(), f"{says!r} not in: {err}"
    assert "error:" in err
    assert not out.exists() or not any(out.rglob("*")), sorted(out.rglob("*"))


def test_enough_cases_over_every_command():
    commands = {" ".join(c[0].split()[:2]) if c[0].split()[0] in ("trace", "sparsify", "plot")
                else c[0].split()[0] for c in CASES}
    assert len(CASES) >= 60
    assert {"rwkv-token", "egru-sweep", "trace rwkv", "trace egru", "sparsify rwkv",
            "plot breakdown", "plot sweep", "plot profile", "plot critical-path", "validate",
            "calibrate", "dvs-gesture"} <= commands


def test_bad_input_message_format(bad, capsys):
    """A UserError from the work of a command: one line, prefixed with the command."""
    rc, err = _run(["egru-sweep", "--trace", str(bad / "egru-nan.npz")], capsys)
    assert rc == 2 and err.startswith("nmsim egru-sweep: error: ") and err.count("\n") == 1


def test_a_bug_shows_its_traceback_and_where_to_report(monkeypatch, capsys):
    import simulator.commands.calibrate as calibrate

    def broken(args):
        raise ZeroDivisionError("a bug")

    monkeypatch.setattr(calibrate, "run", broken)  # register() binds it when the parser is built
    rc, err = _run(["calibrate"], capsys)
    assert rc == 1
    assert "Traceback" in err and "ZeroDivisionError: a bug" in err
    assert err.rstrip().endswith(BUG_REPORT) and "issue tracker" in BUG_REPORT


# -- properties -------------------------------------------------------------------------------
_PES_TEXT = st.text(alphabet="0123456789:, -x", max_size=16)


@given(_PES_TEXT)
@settings(max_examples=300, deadline=None)
def test_pes_parser_accepts_a_sorted_positive_list_or_raises_user_error(text):
    try:
        pes = parse_pes(text)
    except UserError as e:
        assert isinstance(e, ArgumentUserError) and str(e)
        return
    assert pes and pes == sorted(set(pes)) and all(isinstance(n, int) and n >= 1 for n in pes)


_ITEM = st.one_of(
    st.integers(1, 400).map(lambda n: ([n], str(n))),
    st.tuples(st.integers(1, 300), st.integers(0, 100), st.integers(1, 50)).map(
        lambda t: (list(range(t[0], t[0] + t[1] + 1, t[2])), f"{t[0]}:{t[0] + t[1]}:{t[2]}")),
)


@given(st.lists(_ITEM, min_size=1, max_size=5))
@settings(max_examples=200, deadline=None)
def test_pes_parser_reads_what_was_written(items):
    expected = sorted({n for values, _ in items for n in values})
    assert parse_pes(",".join(text for _, text in items)) == expected


@given(st.text(max_size=12), st.integers(-3, 3))
@settings(max_examples=200, deadline=None)
def test_integer_arguments_read_or_raise_user_error(text, least):
    try:
        value = int_at_least(least)(text)
    except UserError:
        return
    assert value >= least and value == int(text)


@given(st.one_of(st.text(max_size=8), st.floats(allow_nan=True).map(str)))
@settings(max_examples=200, deadline=None)
def test_float_arguments_are_finite_or_raise_user_error(text):
    try:
        value = finite_float(1.0, low_open=True)(text)
    except UserError:
        return
    assert np.isfinite(value) and value > 1.0


@given(st.binary(max_size=600))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                   HealthCheck.function_scoped_fixture])
def test_random_bytes_never_load_as_a_trace(tmp_path, data):
    path = tmp_path / "random.npz"
    path.write_bytes(data)
    with pytest.raises(TraceError):
        Trace.load(path)


@given(st.data())
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
def test_damaged_trace_files_load_exactly_or_raise_trace_error(bad, tmp_path, data):
    good = (bad / "egru.npz").read_bytes()
    damaged = bytearray(good)
    if data.draw(st.booleans(), "truncate"):
        damaged = damaged[: data.draw(st.integers(0, len(good) - 1), "length")]
    else:
        for _ in range(data.draw(st.integers(1, 8), "flips")):
            damaged[data.draw(st.integers(0, len(good) - 1), "at")] ^= data.draw(
                st.integers(1, 255), "mask")
    path = tmp_path / "damaged.npz"
    path.write_bytes(bytes(damaged))
    try:
        trace = Trace.load(path)
    except TraceError:
        return
    reference = Trace.load(bad / "egru.npz")  # a flip the format does not notice: same trace
    assert trace.meta == reference.meta


@given(st.data())
@settings(max_examples=int(os.environ.get("NMSIM_CHECKPOINT_EXAMPLES", 25)), deadline=None,
          derandomize=True,  # the same damaged files every run (torch.load is native code)
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
def test_damaged_egru_checkpoints_load_or_raise_user_error(tmp_path, data):
    from models.egru import load_egru

    good = (ARTIFACTS / "egru_tiny.pt").read_bytes()
    damaged = bytearray(good[: data.draw(st.integers(0, len(good)), "length")])
    if damaged and data.draw(st.booleans(), "flip"):
        damaged[data.draw(st.integers(0, len(damaged) - 1), "at")] ^= 0x5A
    path = tmp_path / "damaged.pt"
    path.write_bytes(bytes(damaged))
    with contextlib.suppress(UserError):  # loads, or a clear error: never another exception
        load_egru(path)


def test_spinnaker2_negative_pe_cycle_energy_rejected_by_its_schema():
    from simulator.chips.registry import ChipError, load_chip

    for value in ("-1", ".nan", ".inf"):
        with pytest.raises(ChipError, match="pe_cycle_energy"):
            load_chip("spinnaker2", [f"operating_points.0.8V.pe_cycle_energy={value}"])
    chip = load_chip("spinnaker2", ["operating_points.0.8V.pe_cycle_energy=14"])
    assert chip.config.operating_points["0.8V"].pe_cycle_energy.value == 14


def test_user_errors_are_user_errors():
    """The loaders' own error classes are UserErrors (and still ValueErrors for old callers)."""
    from calibration.schema import CalibrationError
    from simulator.chips.registry import ChipError
    from simulator.plots.inputs import PlotInputError

    for cls in (TraceError, ChipError, CalibrationError, PlotInputError, ArgumentUserError):
        assert issubclass(cls, UserError)
    assert issubclass(TraceError, ValueError) and issubclass(ChipError, ValueError)


def test_pes_parser_refuses_a_range_too_long_to_list():
    """Found by the property test above: '8:7946037197' ran out of memory before the sweep's
    size check could refuse it."""
    with pytest.raises(ArgumentUserError, match="7,946,037,190 values"):
        parse_pes("55,8:7946037197")
