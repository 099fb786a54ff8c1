"""Element-wise work of one EGRU neuron per timestep (EvNN form of the cell, ``workloads.md``).

z, r = sigmoid(acc); g = tanh(acc_gx + r * acc_gh); c = z*h + (1-z)*g; o = c > theta;
y = o*c; h = c - o*theta; the four accumulators are reset to their biases. Programs price
these with a chip's cost model; nothing here knows about hardware.
"""

from __future__ import annotations

POINTWISE_OPS: dict[str, int] = {
    "sigmoid": 2, "tanh": 1, "mul": 5, "add": 2, "sub": 2, "compare": 1, "copy": 4,
}
