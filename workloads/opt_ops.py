"""Element-wise and attention work of one OPT decoder layer, from its equations.

Operation counts per element (``models/opt.py``; the Hugging Face ``OPTDecoderLayer``), and the
vectors a channel owner keeps per channel. Layer norm is counted as for RWKV
(``workloads.rwkv_ops.LAYER_NORM_*``: the same LayerNorm). Programs turn them into cycles and
energy with a chip's cost model; nothing here knows about hardware.

Attention of one head over ``n`` cached positions (``head_dim`` = d): the scores ``q . k_p``
are d weight columns of n keys each (``column(n)`` per query element), the output ``sum_p
a_p v_p`` is n columns of d values each (``column(d)`` per position): the same memory and MAC
work as a linear layer whose weights are the cache. A head split over several cores (or
streamed chunk by chunk) combines its shares with the log-sum-exp rescaling.
"""

from __future__ import annotations

#: per output of a linear layer: + bias (every OPT projection has one)
BIAS = {"add": 1}
#: per mlp.up output
RELU = {"max": 1}
#: per channel, per residual add
RESIDUAL = {"add": 1}
#: HardShrink |x| > theta (sparse run only), as for RWKV
THRESHOLD = {"compare": 2}
#: per query element: q * head_dim ** -0.5 (the HF projection scales q)
QUERY_SCALE = {"mul": 1}
#: per new token and head element: k and v written into the cache
CACHE_APPEND = {"copy": 2}
#: per position of a core's share: running max, s - max, exp, + to the sum
SOFTMAX = {"max": 1, "sub": 1, "exp": 1, "add": 1}
#: per share combined (or chunk folded in): exp(m_i - m) for the share's sum and output
RESCALE_SHARE = {"sub": 1, "exp": 1, "mul": 1, "add": 1}
#: per head element and share combined: o = o * e_a + o_i * e_b
RESCALE_OUTPUT = {"mul": 2, "add": 1}
#: per head element, at the end: o / sum
NORMALISE = {"div": 1}

#: vectors a channel owner keeps per channel: the residual stream, the attention
#: sub-block's output, two layer norms' weight and bias
OWNER_VECTORS = 6
