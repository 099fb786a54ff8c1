"""NeuroBench itself (PyPI ``neurobench`` 2.3, a dev extra) as the oracle of nmsim's operation
counts on EGRU traces: effective and dense synaptic operations, activation sparsity and
connection sparsity, on a dense EGRU, the same EGRU pruned, and the shipped trained-and-pruned
tiny model.

NeuroBench counts only what passes through modules it knows (``nn.Linear``, convolutions,
``nn.RNNCellBase``; activation modules for activation sparsity). The EGRU cell multiplies with
plain parameters, so the network is presented to NeuroBench as what a chip computes: per step
and layer one ``nn.Linear`` for ``W x_t`` and one for ``R y_{t-1}`` (the model's own parameters,
shared), and the graded spikes ``y`` leaving through an activation module. That network must
give the model's logits (checked), so NeuroBench measures the model that the trace records.
It is not shown as an ``nn.GRUCell``: that cell multiplies its hidden state, where EGRU's R
multiplies the events, and NeuroBench's cell count adds the gates' element-wise products, which
nmsim charges per neuron rather than as synaptic operations. Biases: ``nn.Linear`` weights only,
in NeuroBench's connection sparsity as in nmsim's (biases are dense and no synapses); the
decoder (tied embedding) is outside the simulated network in both.
"""

from __future__ import annotations

import pytest
import torch
from torch import Tensor, nn

from models.egru import EGRULM, EGRUConfig, load_tiny_egru
from models.pruning import MagnitudePruner
from workloads.egru_trace import egru_trace_from_model, output_site
from workloads.opcounts import product_rule, site_ops, trace_ops

pytest.importorskip("neurobench")
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity  # noqa: E402
from neurobench.metrics.workload import ActivationSparsity, SynapticOperations  # noqa: E402
from neurobench.models import TorchModel  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_thread")

STEPS = 24


class EventOutput(nn.Module):
    """``y = o * c``: a layer's graded spikes, as a module NeuroBench's activation hooks see."""

    def forward(self, o: Tensor, c: Tensor) -> Tensor:
        return o * c


class AsNeuroBenchSees(nn.Module):
    """The EGRU LM with every synaptic product an ``nn.Linear`` (sharing the model's W, R and
    biases) and every layer's events an :class:`EventOutput`; the cell equations as in
    :class:`models.egru.EGRUCell`, one step at a time."""

    def __init__(self, model: EGRULM) -> None:
        super().__init__()
        self.embedding = model.embedding  # not a connection layer for NeuroBench (nor nmsim)
        self.W, self.R = nn.ModuleList(), nn.ModuleList()
        for cell in model.layers:
            for mods, weight, bias in ((self.W, cell.W, cell.b_x), (self.R, cell.R, cell.b_r)):
                lin = nn.Linear(weight.shape[1], weight.shape[0], dtype=weight.dtype)
                lin.weight, lin.bias = weight, bias
                mods.append(lin)
        self.events = nn.ModuleList(EventOutput() for _ in model.layers)
        self.thr = [cell.thr for cell in model.layers]  # a list: no modules of their own
        self.decoder_bias = model.decoder_bias

    @torch.no_grad()
    def forward(self, tokens: Tensor) -> Tensor:
        x_all = self.embedding(tokens)
        y = [x_all.new_zeros(tokens.shape[0], t.numel()) for t in self.thr]
        h = [v.clone() for v in y]
        last = []
        for t in range(tokens.shape[1]):
            x = x_all[:, t]
            for i, thr in enumerate(self.thr):
                xz, xr, xg = self.W[i](x).chunk(3, dim=-1)
                hz, hr, hg = self.R[i](y[i]).chunk(3, dim=-1)
                z, r = torch.sigmoid(xz + hz), torch.sigmoid(xr + hr)
                c = z * h[i] + (1.0 - z) * torch.tanh(xg + r * hg)
                o = (c - thr > 0).to(c.dtype)
                y[i] = x = self.events[i](o, c)
                h[i] = c - o * thr
            last.append(x)
        return torch.stack(last, 1) @ self.embedding.weight.T + self.decoder_bias


def small_model(prune: float | None) -> EGRULM:
    """A random EGRU LM (float64), dense or magnitude-pruned per matrix to ``prune``."""
    torch.manual_seed(3)
    model = EGRULM(EGRUConfig(vocab_size=20, embedding_dim=16, layers=(32, 24, 16),
                              thr_mean=0.05)).double().eval()
    with torch.no_grad():
        model.embedding.weight.uniform_(-1.0, 1.0)
    if prune is not None:
        MagnitudePruner(model.weight_matrices(), scope="per_matrix").prune_to(prune)
    return model


def tiny_model() -> EGRULM:
    return load_tiny_egru()[0].double()


@pytest.mark.parametrize("make", [lambda: small_model(None), lambda: small_model(0.8), tiny_model],
                         ids=["dense", "pruned-80%", "tiny-trained-pruned-90%"])
def test_neurobench_counts_equal_the_trace_counts(make):
    model = make()
    tokens = torch.arange(STEPS) * 7 % model.cfg.vocab_size
    net = AsNeuroBenchSees(model)
    with torch.no_grad():
        assert torch.allclose(net(tokens[None]), model(tokens[None]).logits, rtol=0, atol=1e-10)

    nb = TorchModel(net)
    nb.add_activation_module(EventOutput)
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(tokens[None], tokens[None]),
                                       batch_size=1)
    bench = Benchmark(nb, data, [], [], [[ConnectionSparsity],
                                         [SynapticOperations, ActivationSparsity]])
    res = bench.run(quiet=True)  # NeuroBench swallows a failing metric as 0: compared below

    trace = egru_trace_from_model(model, tokens)
    ops = trace_ops(trace)  # per step, averaged over the trace's steps
    effective = round(sum(o.effective_macs for o in ops) * STEPS)
    dense = round(sum(o.dense_macs for o in ops) * STEPS)
    syn = res["SynapticOperations"]
    assert syn["Effective_ACs"] == 0  # graded events and embeddings: MACs, not ACs
    assert syn["Effective_MACs"] == effective
    assert syn["Dense"] == dense == STEPS * model.cfg.recurrent_weight_count()
    assert 0 < effective < dense

    shapes = model.cfg.layer_shapes()
    events = sum((1 - site_ops(trace, output_site(i, len(shapes))).activation_sparsity) * h
                 for i, (_, h) in enumerate(shapes))
    sparsity = 1 - events / sum(h for _, h in shapes)
    assert res["ActivationSparsity"] == pytest.approx(sparsity, abs=1e-12)
    assert 0 < sparsity < 1

    weight_sparsity = 1 - product_rule(ops).weight_density
    assert res["ConnectionSparsity"] == round(weight_sparsity, 4)  # NeuroBench rounds to 4
    assert weight_sparsity == pytest.approx(trace.meta.extra["weight_sparsity"], abs=1e-12)
