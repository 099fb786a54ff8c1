"""Activation sparsification of RWKV-4: HardShrink thresholds and their training-free search.

Method of Knunyants et al., "Explore Activation Sparsity in Recurrent LLMs for Energy-Efficient
Neuromorphic Computing" (arXiv 2501.16337, AICAS 2025; code github ERNIS-LAB/LLM-activation-
sparsity, ``RWKV-LM/RWKV-v4neo/experiment.py``, the final version). A HardShrink
``y = x * (|x| > theta)``, one scalar ``theta`` per site, sits before the input of each of the
seven linear layers of every block. Thresholds are found without training:

- on a small initialisation set, the activations of a site are recorded with every threshold
  chosen so far in place; for each candidate kept fraction ``p`` (0.9, 0.8, ..., 0.1) the
  threshold is the mean of the per-token quantile of ``|x|`` at ``1 - p``;
- block by block (first to last), site by site in the order att.key, att.receptance, att.value,
  att.output, ffn.receptance, ffn.key, ffn.value, a lower ``p`` is accepted while
  ``loss_new / loss_accepted < loss_inc`` (published: 1.0005 for RWKV); the accepted loss is the
  base of the next site, so the final loss is within ``loss_inc ** sites`` of the dense loss;
- warm start: from the second block on, a site starts at the kept fraction most often chosen for
  that site in earlier blocks, scanning down while accepted, or up until accepted (the published
  code's rule, which cut the number of inferences about 3x). It can be turned off.

Where this differs from the authors' final code (docs/rwkv-workload.md has the details):

- a site where no candidate is accepted stays dense here (``rejected_site="dense"``); the
  authors' code deploys the first candidate (0.9) there anyway and keeps the previous accepted
  loss as the base of the next site: ``rejected_site="first_candidate_keep_base"`` does that;
- the threshold of a candidate is averaged over all tokens of the initialisation set here; the
  authors' code averages per batch (a running mean of per-batch means), which weighs the tokens
  of a short last batch more. The two agree when every batch holds as many windows (the
  defaults: 32 windows, one batch of 32).

An older script of the same repository (``iterative_init.py``, removed by the final commit)
searched with Top-K (an exact kept count per token); the final code, followed here, evaluates
every candidate with its threshold, so the accepted loss is the loss of what is deployed.

The same search runs on OPT (the paper's §V): thresholds on three sites per decoder layer, the
QKV, up- and down-projection inputs (``models.opt_config.THRESHOLD_SITES``, searched in that
order), never on the out-projection input; the paper reports ``loss_inc`` 1.0003, 1.0004 and
1.0005 there. What differs between the two is a :class:`Family` (site names, file format) and
how the initialisation set runs a model's layers (:class:`_InitSet`).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Protocol, get_args

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import Tensor

from models import opt_config, rwkv_sites
from models.opt import OPT
from models.rwkv import RWKV4, SiteFn
from simulator.errors import UserError

#: a model the search runs on
Model = RWKV4 | OPT

#: Site order inside a block during the search (as published).
SEARCH_ORDER: tuple[str, ...] = (
    "att.key",
    "att.receptance",
    "att.value",
    "att.output",
    "ffn.receptance",
    "ffn.key",
    "ffn.value",
)
#: Candidate kept fractions, linear grid (as published).
KEPT_FRACTIONS: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(9, 0, -1))
#: Published acceptance factor for RWKV.
PUBLISHED_LOSS_INC = 1.0005

THRESHOLDS_FORMAT = "nmsim-rwkv-thresholds"
OPT_THRESHOLDS_FORMAT = "nmsim-opt-thresholds"
THRESHOLDS_VERSION = 1


@dataclass(frozen=True)
class Family:
    """What the search and its file know of a model family: the site names, the sites that
    carry thresholds in the order the search visits them, and the file format."""

    name: str
    layer: str  # site names are ``{layer}.{i}.{suffix}``
    suffixes: tuple[str, ...]  # every site of a layer, in the order sparsity is reported
    search_order: tuple[str, ...]  # the sites with a threshold, in the search's order
    site_suffix: Callable[[str], str]  # a site name's suffix; raises on a malformed name
    format: str
    width: str  # the config field of the model's width, recorded in the file

    def site_names(self, n_layer: int) -> list[str]:
        """Every site of ``n_layer`` layers that can carry a threshold."""
        return [f"{self.layer}.{i}.{s}" for i in range(n_layer) for s in self.search_order]


RWKV_FAMILY = Family("RWKV-4", "blocks", rwkv_sites.SITE_SUFFIXES, SEARCH_ORDER,
              rwkv_sites.site_suffix, THRESHOLDS_FORMAT, "n_embd")
OPT_FAMILY = Family("OPT", "layers", opt_config.SITE_SUFFIXES, opt_config.THRESHOLD_SITES,
                    opt_config.site_suffix, OPT_THRESHOLDS_FORMAT, "d_model")


def family_of(model: Model) -> Family:
    return OPT_FAMILY if isinstance(model, OPT) else RWKV_FAMILY


def hardshrink(x: Tensor, theta: float) -> Tensor:
    """``x * (|x| > theta)``: values at or below the threshold become exact zeros."""
    return x * (x.abs() > theta)


class Thresholds:
    """A site function applying HardShrink with one threshold per site; ``enabled=False`` (or a
    site without a threshold) passes inputs through unchanged, i.e. the dense model."""

    def __init__(self, values: Mapping[str, float] | None = None, enabled: bool = True,
                 family: Family = RWKV_FAMILY) -> None:
        self.values: dict[str, float] = {}
        self.family = family
        for name, theta in (values or {}).items():
            if family.site_suffix(name) not in family.search_order:  # raises if malformed
                raise ValueError(f"{name} carries no threshold (a {family.name} layer has "
                                 f"them on {', '.join(family.search_order)})")
            if not (theta >= 0 and math.isfinite(theta)):
                raise ValueError(f"threshold of {name} must be finite and >= 0, got {theta}")
            self.values[name] = float(theta)
        self.enabled = enabled

    def __call__(self, name: str, x: Tensor) -> Tensor:
        theta = self.values.get(name) if self.enabled else None
        return hardshrink(x, theta) if theta else x

    def check(self, model: Model) -> None:
        """Every site named must exist in ``model``."""
        if self.family is not family_of(model):
            raise ValueError(f"{self.family.name} thresholds for an {family_of(model).name} "
                             "model")
        unknown = sorted(set(self.values) - set(self.family.site_names(model.cfg.n_layer)))
        if unknown:
            raise ValueError(f"thresholds name sites the model (n_layer={model.cfg.n_layer}) "
                             f"does not have: {unknown}")


class ZeroCounter:
    """Site function wrapper that counts exact zeros of every linear layer's (final) input."""

    def __init__(self, inner: SiteFn | None = None) -> None:
        self.inner = inner
        self.zeros: Counter[str] = Counter()
        self.total: Counter[str] = Counter()

    def __call__(self, name: str, x: Tensor) -> Tensor:
        y = self.inner(name, x) if self.inner else x
        self.zeros[name] += int((y == 0).sum())
        self.total[name] += y.numel()
        return y

    def sparsity(self) -> dict[str, float]:
        return {k: self.zeros[k] / self.total[k] for k in self.total}


@torch.no_grad()
def evaluate(
    model: Model, win: Tensor, thresholds: Thresholds | None = None, batch_size: int = 32
) -> tuple[float, dict[str, float]]:
    """Loss (nats/token) over ``(N, T + 1)`` windows and the sparsity of every site's input."""
    counter = ZeroCounter(thresholds)
    total = 0.0
    for s in range(0, len(win), batch_size):
        w = win[s : s + batch_size]
        logits, _ = model(w[:, :-1], site=counter)
        total += F.cross_entropy(logits.flatten(0, 1), w[:, 1:].flatten(), reduction="sum").item()
    return total / win[:, 1:].numel(), counter.sparsity()


def by_suffix(per_site: Mapping[str, float], family: Family = RWKV_FAMILY) -> dict[str, float]:
    """Average over blocks of a per-site quantity (as the paper reports sparsity per site)."""
    acc: dict[str, list[float]] = {}
    for name, v in per_site.items():
        acc.setdefault(family.site_suffix(name), []).append(v)
    return {s: sum(acc[s]) / len(acc[s]) for s in family.suffixes if s in acc}


def mac_weighted(model: Model, per_site: Mapping[str, float]) -> float:
    """Per-site sparsity averaged with each linear layer's MAC count (in x out) as weight."""
    suffix = family_of(model).site_suffix
    w = {n: math.prod(model.cfg.site_shape(suffix(n))) for n in per_site}
    return sum(per_site[n] * w[n] for n in per_site) / sum(w.values())


def quantile_thresholds(x: Tensor, kept: Sequence[float]) -> list[float]:
    """For each kept fraction p: mean over tokens of the per-token quantile of |x| at 1 - p
    (linear interpolation, as ``torch.quantile``, without its input-size limit)."""
    a = x.abs().flatten(0, -2).sort(dim=-1).values  # (tokens, features)
    n = a.shape[-1]
    out = []
    for p in kept:
        pos = (1.0 - p) * (n - 1)
        lo = math.floor(pos)
        hi = min(lo + 1, n - 1)
        frac = pos - lo
        out.append(float((a[:, lo] * (1 - frac) + a[:, hi] * frac).mean()))
    return out


# -- the search ------------------------------------------------------------------------------------
#: What a site gets when every candidate kept fraction it tried was rejected:
#:
#: - ``"dense"`` (nmsim's default): no threshold; the accepted loss stays what it was, so the
#:   deployed thresholds always give the accepted loss and the final loss stays within
#:   ``loss_inc ** sites`` of the dense loss;
#: - ``"first_candidate_keep_base"`` (the authors' final ``experiment.py``): the threshold of the
#:   first candidate (``candidates[0]``, 0.9) is deployed anyway, its kept fraction enters the
#:   warm-start history, and the next site is compared with the loss accepted *before* this
#:   site (a base without this site's loss increase, though the model now has it). Once a site
#:   is rejected, every later candidate carries that increase against the old base, so later
#:   sites tend to be rejected too and get the first candidate as well.
RejectedSite = Literal["dense", "first_candidate_keep_base"]
REJECTED_SITE_CHOICES: tuple[str, ...] = get_args(RejectedSite)


@dataclass
class Trial:
    kept: float
    threshold: float
    loss: float
    accepted: bool


@dataclass
class SiteSearch:
    site: str
    start: float | None  # warm-start kept fraction, None for a scan from the top
    kept: float  # chosen kept fraction (1.0: left dense)
    threshold: float
    loss: float  # accepted loss after this site: the base the next site is compared with
    deployed_loss: float  # loss with the thresholds as deployed after this site (= loss,
    #                       except after a rejection with "first_candidate_keep_base")
    rejected: bool = False  # no candidate was accepted
    trials: list[Trial] = field(default_factory=list)


@dataclass
class SearchResult:
    thresholds: dict[str, float]
    kept: dict[str, float]
    base_loss: float
    final_loss: float  # loss on the initialisation set with the deployed thresholds
    loss_inc: float
    warm_start: bool
    candidates: list[float]
    inferences: int  # loss evaluations on the initialisation set (the base loss included)
    recording_passes: int  # one pass of one block per site, to record its activations
    sites: list[SiteSearch]
    rejected_site: str = "dense"

    @property
    def rejected_sites(self) -> list[str]:
        """Sites where no candidate was accepted (where the two ``rejected_site`` rules
        differ; with none, both give the same thresholds)."""
        return [s.site for s in self.sites if s.rejected]

    def as_dict(self) -> dict:
        return asdict(self)


class InitData(Protocol):
    """What the search needs of the initialisation set (:class:`_InitSet` for a model)."""

    def loss(self, site: SiteFn) -> float: ...

    def record(self, name: str, site: SiteFn) -> Tensor: ...

    def advance(self, site: SiteFn) -> None: ...


class _InitSet:
    """The initialisation set as cached residual-stream inputs of the block being searched, so
    an inference only runs the blocks from there on (blocks before it no longer change). Each
    window runs from the empty state (RWKV) or an empty cache (OPT: a causal prefill)."""

    def __init__(self, model: Model, win: Tensor, batch_size: int) -> None:
        self.model = model
        self.targets = [win[s : s + batch_size, 1:] for s in range(0, len(win), batch_size)]
        embed = model.embed if isinstance(model, OPT) else model.emb
        with torch.no_grad():
            self.x = [embed(win[s : s + batch_size, :-1])
                      for s in range(0, len(win), batch_size)]
        self.block = 0

    def _run(self, x: Tensor, site: SiteFn, stop: int | None = None) -> Tensor:
        """Residual stream through blocks ``self.block..stop-1``."""
        m = self.model
        run = m.run_layers if isinstance(m, OPT) else m.run_blocks
        return run(x, site=site, start=self.block, stop=stop)[0]

    @torch.no_grad()
    def loss(self, site: SiteFn) -> float:
        total, count = 0.0, 0
        for x, y in zip(self.x, self.targets, strict=True):
            h = self._run(x, site)
            logits = self.model.logits(h)
            total += F.cross_entropy(logits.flatten(0, 1), y.flatten(), reduction="sum").item()
            count += y.numel()
        return total / count

    @torch.no_grad()
    def record(self, name: str, site: SiteFn) -> Tensor:
        """Input of site ``name`` (in the current block), all earlier thresholds applied."""
        seen: list[Tensor] = []

        def grab(n: str, x: Tensor) -> Tensor:
            x = site(n, x)
            if n == name:
                seen.append(x)
            return x

        for x in self.x:
            self._run(x, grab, self.block + 1)
        return torch.cat([s.flatten(0, -2) for s in seen])

    @torch.no_grad()
    def advance(self, site: SiteFn) -> None:
        """Move the cache past the current block, with its thresholds applied."""
        self.x = [self._run(x, site, self.block + 1) for x in self.x]
        self.block += 1


def _warm_start(history: list[float]) -> float | None:
    """Most frequent kept fraction so far (ties: the smallest, as ``np.unique``+``argmax``);
    None when there is no history or it is 1.0 (dense): then scan from the top."""
    if not history:
        return None
    counts = Counter(history)
    best = max(sorted(counts), key=lambda p: counts[p])  # max keeps the first (smallest) tie
    return None if best >= 1.0 else best


def _scan(trial: Callable[[float], bool], cand: list[float], i0: int) -> None:
    """Try ``cand[i0]``; if accepted go on down the grid until a rejection, otherwise go up
    until an acceptance. Either way ``cand[0]`` has been tried when nothing was accepted."""
    if trial(cand[i0]):
        for p in cand[i0 + 1 :]:
            if not trial(p):
                return
    else:
        for p in reversed(cand[:i0]):
            if trial(p):
                return


def search_thresholds(
    model: Model,
    init: Tensor,
    *,
    loss_inc: float = PUBLISHED_LOSS_INC,
    candidates: Sequence[float] = KEPT_FRACTIONS,
    warm_start: bool = True,
    rejected_site: RejectedSite = "dense",
    batch_size: int = 32,
    progress: Callable[[str, float, int], None] | None = None,
) -> SearchResult:
    """The published threshold search on initialisation windows ``init`` (``(N, T + 1)``).

    ``candidates`` must be decreasing kept fractions in (0, 1). ``rejected_site`` says what a
    site gets when no candidate is accepted (:data:`RejectedSite`). ``progress(site, loss,
    inferences)`` is called after each site (the CLI drives a progress bar with it).
    """
    return search(_InitSet(model, init, batch_size), model.cfg.n_layer, loss_inc=loss_inc,
                  candidates=candidates, warm_start=warm_start, rejected_site=rejected_site,
                  progress=progress, family=family_of(model))


def search(
    data: InitData,
    n_layer: int,
    *,
    loss_inc: float = PUBLISHED_LOSS_INC,
    candidates: Sequence[float] = KEPT_FRACTIONS,
    warm_start: bool = True,
    rejected_site: RejectedSite = "dense",
    progress: Callable[[str, float, int], None] | None = None,
    family: Family = RWKV_FAMILY,
) -> SearchResult:
    """The search itself, on any :class:`InitData` (tests drive it with hand-made losses), over
    the ``family``'s thresholded sites."""
    cand = [float(p) for p in candidates]
    if not cand or any(not 0 < p < 1 for p in cand) or cand != sorted(cand, reverse=True):
        raise ValueError(f"candidates must be decreasing kept fractions in (0, 1), got {cand}")
    if loss_inc <= 1.0:
        raise ValueError(f"loss_inc must be > 1, got {loss_inc}")
    if rejected_site not in REJECTED_SITE_CHOICES:
        raise ValueError(f"rejected_site must be one of {REJECTED_SITE_CHOICES}, "
                         f"got {rejected_site!r}")
    th = Thresholds(family=family)
    inferences = recordings = 0
    base = deployed = data.loss(th)
    inferences += 1
    first = base
    history: dict[str, list[float]] = {}
    sites: list[SiteSearch] = []
    for b in range(n_layer):
        for suffix in family.search_order:
            name = f"{family.layer}.{b}.{suffix}"
            thetas = dict(zip(cand, quantile_thresholds(data.record(name, th), cand), strict=True))
            recordings += 1
            trials: list[Trial] = []

            def trial(p: float, name: str = name, thetas: dict = thetas,
                      trials: list = trials, base: float = base) -> bool:
                th.values[name] = thetas[p]
                loss = data.loss(th)
                trials.append(Trial(p, thetas[p], loss, loss / base < loss_inc))
                return trials[-1].accepted

            start = _warm_start(history.get(suffix, [])) if warm_start else None
            _scan(trial, cand, cand.index(start) if start is not None else 0)
            inferences += len(trials)
            ok = [t for t in trials if t.accepted]
            if ok:
                best = min(ok, key=lambda t: t.kept)
                kept, theta, base = best.kept, best.threshold, best.loss
                deployed = best.loss
                th.values[name] = theta
            elif rejected_site == "dense":
                th.values.pop(name)  # the loss is the one before this site: base, deployed
                kept, theta = 1.0, 0.0
            else:  # the first candidate was tried (an upward scan ends there): deploy it
                top = next(t for t in trials if t.kept == cand[0])
                kept, theta, deployed = top.kept, top.threshold, top.loss
                th.values[name] = theta
            history.setdefault(suffix, []).append(kept)
            sites.append(SiteSearch(site=name, start=start, kept=kept, threshold=theta,
                                    loss=base, deployed_loss=deployed, rejected=not ok,
                                    trials=trials))
            if progress:
                progress(name, deployed, inferences)
        data.advance(th)
    return SearchResult(
        thresholds=dict(th.values),
        kept={s.site: s.kept for s in sites},
        base_loss=first,
        final_loss=deployed,
        loss_inc=loss_inc,
        warm_start=warm_start,
        candidates=cand,
        inferences=inferences,
        recording_passes=recordings,
        sites=sites,
        rejected_site=rejected_site,
    )


# -- thresholds file -------------------------------------------------------------------------------
class ThresholdsFile(BaseModel):
    """The search's output: thresholds per site, plus the search record and measurements."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["nmsim-rwkv-thresholds"] = THRESHOLDS_FORMAT
    version: int = THRESHOLDS_VERSION
    model: str = Field(description="what the thresholds were searched on")
    n_layer: int = Field(gt=0)
    n_embd: int = Field(gt=0)
    thresholds: dict[str, float] = Field(description="HardShrink threshold per site")
    kept_fraction: dict[str, float] = Field(default_factory=dict)
    search: dict = Field(default_factory=dict, description="settings and record of the search")
    evaluation: dict = Field(default_factory=dict, description="held-out loss and sparsity")

    def to_thresholds(self, enabled: bool = True) -> Thresholds:
        return Thresholds(self.thresholds, enabled)


class OPTThresholdsFile(BaseModel):
    """:class:`ThresholdsFile` for an OPT: its width is ``d_model``, its sites ``layers.*``."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["nmsim-opt-thresholds"] = OPT_THRESHOLDS_FORMAT
    version: int = THRESHOLDS_VERSION
    model: str = Field(description="what the thresholds were searched on")
    n_layer: int = Field(gt=0)
    d_model: int = Field(gt=0)
    thresholds: dict[str, float] = Field(description="HardShrink threshold per site")
    kept_fraction: dict[str, float] = Field(default_factory=dict)
    search: dict = Field(default_factory=dict, description="settings and record of the search")
    evaluation: dict = Field(default_factory=dict, description="held-out loss and sparsity")

    def to_thresholds(self, enabled: bool = True) -> Thresholds:
        return Thresholds(self.thresholds, enabled, OPT_FAMILY)


AnyThresholdsFile = ThresholdsFile | OPTThresholdsFile
_FILES: dict[str, type[AnyThresholdsFile]] = {THRESHOLDS_FORMAT: ThresholdsFile,
                                              OPT_THRESHOLDS_FORMAT: OPTThresholdsFile}


def save_thresholds(tf: AnyThresholdsFile, path: str | Path) -> Path:
    from simulator.outputs import write_atomic

    return write_atomic(Path(path), tf.model_dump_json(indent=1) + "\n")


class ThresholdsError(UserError, ValueError):
    """A thresholds file is unreadable, invalid, or made for another model."""


def load_thresholds(path: str | Path, family: Family = RWKV_FAMILY) -> AnyThresholdsFile:
    """Read and validate a ``family``'s thresholds file; errors name the file and the
    problem."""
    path = Path(path)
    fmt = family.format
    try:
        raw = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise ThresholdsError(f"{path}: no such thresholds file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ThresholdsError(f"{path}: not a readable thresholds file: {e}") from None
    if not isinstance(raw, dict) or raw.get("format") != fmt:
        raise ThresholdsError(f"{path}: not an {fmt} file (field 'format' must be {fmt!r})")
    if raw.get("version") != THRESHOLDS_VERSION:
        raise ThresholdsError(f"{path}: thresholds version {raw.get('version')!r} is not "
                              f"supported (this nmsim reads version {THRESHOLDS_VERSION})")
    try:
        tf = _FILES[fmt].model_validate(raw)
        tf.to_thresholds()  # site names and values
    except ValidationError as e:
        problems = "; ".join(f"field '{'.'.join(map(str, err['loc']))}': {err['msg']}"
                             for err in e.errors())
        raise ThresholdsError(f"{path}: invalid thresholds file: {problems}") from None
    except ValueError as e:
        raise ThresholdsError(f"{path}: invalid thresholds file: {e}") from None
    return tf


def check_thresholds_file(tf: AnyThresholdsFile, model: Model, where: str = "thresholds"
                          ) -> None:
    """The file was searched on a model of this family and size (``n_layer`` and the width,
    ``n_embd`` or ``d_model``, agree)."""
    cfg, family = model.cfg, family_of(model)
    if tf.format != family.format:
        raise ThresholdsError(f"{where}: a {tf.format} file, but the model is {family.name}")
    wrong = [f"{k}={getattr(tf, k)} but the model has {k}={getattr(cfg, k)}"
             for k in ("n_layer", family.width) if getattr(tf, k) != getattr(cfg, k)]
    if wrong:
        raise ThresholdsError(f"{where}: made for another model: {'; '.join(wrong)}")


def resolve_thresholds(thresholds: str | Path | AnyThresholdsFile | Thresholds | None,
                       model: Model) -> tuple[Thresholds | None, str | None]:
    """The thresholds a trace of ``model`` applies and the file they came from (None: given as
    an object or not at all); a file must be of the model's family and size."""
    if thresholds is None or isinstance(thresholds, Thresholds):
        return thresholds, None
    if isinstance(thresholds, ThresholdsFile | OPTThresholdsFile):
        check_thresholds_file(thresholds, model)
        return thresholds.to_thresholds(), None
    tf = load_thresholds(thresholds, family_of(model))
    check_thresholds_file(tf, model, f"--thresholds {thresholds}")
    return tf.to_thresholds(), str(thresholds)


def sparsify(
    model: Model,
    init: Tensor,
    heldout: Tensor,
    description: str,
    *,
    loss_inc: float = PUBLISHED_LOSS_INC,
    candidates: Sequence[float] = KEPT_FRACTIONS,
    warm_start: bool = True,
    rejected_site: RejectedSite = "dense",
    progress: Callable[[str, float, int], None] | None = None,
) -> AnyThresholdsFile:
    """Search thresholds on ``init`` and measure loss and sparsity, dense vs sparsified, on the
    held-out windows: everything a thresholds file records."""
    res = search_thresholds(model, init, loss_inc=loss_inc, candidates=candidates,
                            warm_start=warm_start, rejected_site=rejected_site,
                            progress=progress)
    family = family_of(model)
    th = Thresholds(res.thresholds, family=family)
    dense_loss, dense_sp = evaluate(model, heldout)
    sparse_loss, sparse_sp = evaluate(model, heldout, th)
    n_sites = len(res.sites)
    return _FILES[family.format](
        model=description,
        n_layer=model.cfg.n_layer,
        **{family.width: getattr(model.cfg, family.width)},
        thresholds=res.thresholds,
        kept_fraction=res.kept,
        search={
            "method": "Knunyants et al., arXiv 2501.16337 (training-free threshold search)",
            "loss_inc": loss_inc,
            "warm_start": warm_start,
            "rejected_site": rejected_site,
            "rejected_sites": res.rejected_sites,
            "candidates": res.candidates,
            "init_windows": int(init.shape[0]),
            "ctx_len": int(init.shape[1] - 1),
            "inferences": res.inferences,
            "recording_passes": res.recording_passes,
            "init_loss_dense": res.base_loss,
            "init_loss_sparse": res.final_loss,
            # the bound holds only when a rejected site stays dense (see RejectedSite)
            "init_loss_bound": (res.base_loss * loss_inc**n_sites
                                if rejected_site == "dense" else None),
            "sites": [asdict(s) for s in res.sites],
        },
        evaluation={
            "heldout_windows": int(heldout.shape[0]),
            "heldout_tokens": int(heldout[:, 1:].numel()),
            "loss_dense": dense_loss,
            "loss_sparse": sparse_loss,
            "sparsity_dense": by_suffix(dense_sp, family),
            "sparsity_sparse": by_suffix(sparse_sp, family),
            "mac_weighted_sparsity_dense": mac_weighted(model, dense_sp),
            "mac_weighted_sparsity_sparse": mac_weighted(model, sparse_sp),
            "sparsity_dense_per_site": dense_sp,
            "sparsity_sparse_per_site": sparse_sp,
        },
    )
