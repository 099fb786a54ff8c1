"""One reading of a published "KB" everywhere: 1024 B (``calibration.schema.KB_BYTES``).

Every size in the cost tables that quotes its source in KB must be that many KiB, the EGRU
memory reference (Nazeer et al., Table I) must be compared in the same unit, and the capacities
of the same table must be what the SRAM banks are in that unit.
"""

from __future__ import annotations

import re

import pytest

from calibration.fit import load_references
from calibration.schema import KB_BYTES, cited_values
from simulator.chips import registry

#: a size quoted in a source: "17.9 KB", "32 kB" (not "kB/s" or "KBps")
QUOTED_KB = re.compile(r"(\d+(?:\.\d+)?)\s*[kK]B\b(?!/)")


def test_kb_is_1024_bytes_in_every_cost_table():
    checked = []
    for chip in ("seneca", "spinnaker2"):
        for path, c in cited_values(registry.default_config(chip)).items():
            quoted = QUOTED_KB.findall(c.source)
            if c.unit != "B" or not quoted:
                continue
            # the source quotes its value (to the digits given); the first size quoted is it
            kb = float(quoted[0])
            half_digit = 0.5 * 10 ** -len(quoted[0].partition(".")[2]) * KB_BYTES
            assert abs(c.value - kb * KB_BYTES) <= max(half_digit, 0.5), (chip, path, c.source)
            assert abs(c.value - kb * 1000) > 0.5, (chip, path, "read as 1000 B")
            checked.append(f"{chip}.{path}")
    assert {"spinnaker2.sram.bank_bytes", "spinnaker2.software.egru_program_bytes",
            "spinnaker2.software.egru_debug_stack_bytes",
            "seneca.data_memory.block_bytes"} <= set(checked)


def test_nazeer_table_one_is_read_in_one_unit():
    """Table I of Nazeer et al.: usages 17.9 KB program, 5 KB debug, 88.3 KB weights, against
    32 KB instruction and 96 KB data. The program size in the cost table, the weight reference
    and the reference's simulation all use the same bytes per KB, the one that makes the
    table's capacities the SRAM's banks."""
    from simulator.jobs import egru_references

    cfg = registry.default_config("spinnaker2")
    sram, sw = cfg.sram, cfg.software
    assert sram.program_banks.value * sram.bank_bytes.value == 32 * KB_BYTES
    assert (sram.banks.value - sram.program_banks.value) * sram.bank_bytes.value == 96 * KB_BYTES
    assert sw.egru_program_bytes.value == round(17.9 * KB_BYTES)
    assert sw.egru_debug_stack_bytes.value == 5 * KB_BYTES
    ref = {r.name: r for r in load_references("spinnaker2").references}[
        "spinnaker2.egru_lm_weights_per_pe"]
    assert (ref.value, ref.unit) == (88.3, "KiB")
    assert egru_references.KB == KB_BYTES  # the simulated bytes are divided by the same
    # Table I's data usages fit its 96 KB in this reading (5 + 88.3 + 2.6 = 95.9 KB)
    assert (5 + 88.3 + 2.6) * KB_BYTES <= 96 * KB_BYTES


@pytest.mark.parametrize("text, sizes", [("17.9 KB", ["17.9"]), ("32 kB per bank", ["32"]),
                                         ("6.4 GB/s", []), ("4.8 kB/s", [])])
def test_quoted_size_pattern(text: str, sizes: list[str]):
    assert QUOTED_KB.findall(text) == sizes
