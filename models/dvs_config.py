"""The DVS-gesture network's published shape and the stated assumptions of its synthetic
traces, without the network (no torch, no numpy: ``nmsim dvs-gesture --help`` reads them).

Nazeer et al., "Language Modeling on a SpiNNaker2 Neuromorphic Chip", AICAS 2024, §III-D
(``../shared/reference/workloads.md``): 512 CNN features per frame into two EGRU layers of 256
units, dense weights held in SRAM, 128 PEs, 11 gestures, frames of 25 ms of DVS128 events.
"""

from __future__ import annotations

#: (CNN features, EGRU layer 0, EGRU layer 1)
DVS_SIZES: tuple[int, int, int] = (512, 256, 256)
DVS_CLASSES = 11
DVS_PAPER_PES = 128
FRAME_S = 0.025  # one frame: a 25 ms bin of DVS128 events
#: fraction of each EGRU layer's units firing per frame: an assumption, not a published figure
DEFAULT_ACTIVITY = 0.1
#: frames per sample: an assumption (a DVS128 gesture lasts about 6 s, 240 frames of 25 ms;
#: the default simulates the first 20), a parameter
DEFAULT_FRAMES = 20
