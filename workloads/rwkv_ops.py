"""Element-wise work of one RWKV-4 block per channel, from the RNN-mode equations.

Operation counts per element (``../shared/reference/workloads.md``, the official ``RWKV_RNN``
reference), and the vectors a block keeps per channel. Programs turn them into cycles and
energy with a chip's cost model; nothing here knows about hardware.
"""

from __future__ import annotations

#: per channel: sum, square + sum of squares
LAYER_NORM_PARTIAL = {"add": 2, "mul": 1}
#: per channel: centre, * 1/std, * gamma, + beta
LAYER_NORM_FINISH = {"sub": 1, "mul": 2, "add": 1}
#: per vector: one division for the mean, one for the variance, a square root
LAYER_NORM_PER_VECTOR = {"div": 2, "sqrt": 1}
#: per mixed input: xx * mix + prev * (1 - mix), (1 - mix) stored
TOKEN_SHIFT = {"mul": 2, "add": 1}
#: prev <- xx
STATE_COPY = {"copy": 1}
#: HardShrink |x| > theta: x > theta or x < -theta (sparse run only)
THRESHOLD = {"compare": 2}
#: ww = u + k; p = max(pp, ww); e1 = exp(pp - p); e2 = exp(ww - p); a = e1 aa + e2 v;
#: b = e1 bb + e2; wkv = a / b; then the state: ww = pp + w; p = max(ww, k); e1, e2 again;
#: aa = e1 aa + e2 v; bb = e1 bb + e2; pp = p.
WKV = {"add": 6, "max": 2, "sub": 4, "exp": 4, "mul": 6, "div": 1, "copy": 1}
SIGMOID = {"sigmoid": 1}
SQUARED_RELU = {"max": 1, "mul": 1}
RECEPTANCE_GATE = {"mul": 1}  # r * wkv
CHANNEL_MIX_OUT = {"mul": 1, "add": 1}  # r * v, + x
RESIDUAL = {"add": 1}
PARTIAL_SUM = {"add": 1}

#: vectors kept per channel (states, parameters, buffers). Time-Mix: prev x, 3 mixes, LN
#: weight and bias, time_first, time_decay, aa, bb, pp, k, v, r; Channel-Mix: prev x, 2
#: mixes, LN weight and bias, r, x; plus one value per element of the 4C key vector.
TIME_MIX_VECTORS, CHANNEL_MIX_VECTORS, CHANNEL_MIX_KEY_VECTORS = 14, 7, 1
