"""Estimate unpublished SpiNNaker2 parameters from published aggregate measurements (scipy).

SpiNNaker2's papers publish chip power in a few states and INT8 throughput/efficiency, not
per-operation costs. The chip model needs per-operation costs, so this module fits them with a
small analytic model of those aggregates (the simulator itself is not imported: calibration
imports none of ours; ``nmsim calibrate --report`` then checks the fitted table by simulating
every reference with the real chip model):

- chip power, PEs off       = P_periphery
- chip power, PEs asleep    = P_periphery + n * P_sleep(level)
- chip power, CoreMark      = ... + n * f * E_mix(level), where E_mix is the energy of one busy
  cycle of a CoreMark-like instruction mix: per instruction class, cycles x pe_cycle_energy
  (the unknown) plus its data-SRAM words x the SRAM word energy (an assumption in the table)
- INT8 throughput           = n * f * macs_per_cycle * sustained_fraction * 2
- chip power, INT8 on MLA   = P_periphery + n * P_sleep + n * f * MACs/cycle * E_mac(level);
  E_mac is free only at levels with a ``use: fit`` efficiency reference; at other levels it is
  the fitted one scaled like pe_cycle_energy (an assumption, which a held-out check tests).

Unknowns are solved by ``scipy.optimize.least_squares`` on relative residuals of every
``use: fit`` reference; ``held_out`` ones never enter. Run ``python -m calibration.fit`` to
print the fitted values as they belong in ``calibration/spinnaker2.yaml``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.optimize import least_squares

from calibration.schema import CalibrationError, Reference, ReferenceSet, load_yaml
from calibration.spinnaker2 import Spinnaker2Config, load_spinnaker2

REFERENCES_DIR = Path(__file__).with_name("references")

#: SI value of one unit of each reference unit this model predicts
UNITS = {"W": 1.0, "mW": 1e-3, "TOPS": 1e12, "TOPS/W": 1e12}


def load_references(chip: str) -> ReferenceSet:
    return load_yaml(REFERENCES_DIR / f"{chip}.yaml", ReferenceSet)


@dataclass(frozen=True)
class FitResult:
    """Fitted values by dotted path of the cost table, and the model's value of every
    reference it can predict (fitted ones should match; held-out ones are the check)."""

    params: dict[str, float]
    predictions: dict[str, float]
    success: bool
    message: str

    def relative_errors(self, refs: ReferenceSet) -> dict[str, float]:
        return {r.name: self.predictions[r.name] / r.value - 1.0
                for r in refs.references if r.name in self.predictions}


class _Model:
    """Maps a parameter vector to predicted reference values (see the module docstring)."""

    def __init__(self, cfg: Spinnaker2Config, fit_refs: list[Reference]) -> None:
        self.cfg = cfg
        self.levels = list(cfg.operating_points)
        self.mac_levels = [str(r.conditions["level"]) for r in fit_refs
                           if r.quantity == "INT8 efficiency"]
        names = ["chip.periphery_power"]
        names += [f"operating_points.{lv}.pe_sleep_power" for lv in self.levels]
        names += [f"operating_points.{lv}.pe_cycle_energy" for lv in self.levels]
        names += ["mla.sustained_fraction"]
        names += [f"operating_points.{lv}.mla_mac_energy" for lv in self.mac_levels]
        self.names = names

    def unpack(self, x: np.ndarray) -> dict[str, float]:
        p = dict(zip(self.names, map(float, x), strict=True))
        if self.mac_levels:
            base = self.mac_levels[0]
            for lv in self.levels:
                key = f"operating_points.{lv}.mla_mac_energy"
                if key not in p:
                    ratio = (p[f"operating_points.{lv}.pe_cycle_energy"]
                             / p[f"operating_points.{base}.pe_cycle_energy"])
                    p[key] = p[f"operating_points.{base}.mla_mac_energy"] * ratio
        return p

    def x0(self) -> np.ndarray:
        guess = {"periphery_power": 0.05, "pe_sleep_power": 1e-3, "pe_cycle_energy": 10.0,
                 "sustained_fraction": 0.5, "mla_mac_energy": 1.0}
        return np.array([guess[n.rsplit(".", 1)[1]] for n in self.names])

    def mix_energy_per_cycle(self, p: dict[str, float], level: str) -> float:
        """pJ per busy cycle of the CoreMark-like mix at ``level``."""
        op = self.cfg.level(level)
        e_cyc = p[f"operating_points.{level}.pe_cycle_energy"]
        cycles = energy = 0.0
        for cls, frac in self.cfg.coremark_mix.items():
            ic = self.cfg.instruction_classes[cls]
            c = frac.value * ic.cycles.value
            cycles += c
            energy += (c * ic.relative_energy.value * e_cyc
                       + frac.value * ic.sram_reads.value * op.sram_read_energy.value
                       + frac.value * ic.sram_writes.value * op.sram_write_energy.value)
        return energy / cycles

    def predict(self, ref: Reference, p: dict[str, float]) -> float | None:
        """Predicted value of ``ref`` in its own unit, or None if the model does not cover it."""
        if ref.chip != "spinnaker2" or ref.unit not in UNITS:
            return None
        cond = ref.conditions
        state = cond.get("state")
        level = str(cond.get("level", self.levels[0]))
        n = float(cond.get("pes", self.cfg.chip.pes_per_chip.value))
        f = self.cfg.level(level).clock.value if level in self.levels else None
        macs_per_s = (n * f * self.cfg.mla.macs_per_cycle.value * p["mla.sustained_fraction"]
                      if f is not None else None)
        base = p["chip.periphery_power"]
        if ref.quantity == "chip power" and state == "off":
            si = base
        elif f is None:
            return None
        elif ref.quantity == "chip power" and state in ("sleep", "coremark"):
            si = base + n * p[f"operating_points.{level}.pe_sleep_power"]
            if state == "coremark":
                si += n * f * self.mix_energy_per_cycle(p, level) * 1e-12
        elif ref.quantity == "INT8 throughput" and state == "mla_int8":
            si = 2 * macs_per_s
        elif ref.quantity == "INT8 efficiency" and state == "mla_int8":
            key = f"operating_points.{level}.mla_mac_energy"
            if key not in p:
                return None
            power = (base + n * p[f"operating_points.{level}.pe_sleep_power"]
                     + macs_per_s * p[key] * 1e-12)
            si = 2 * macs_per_s / power
        else:
            return None
        return si / UNITS[ref.unit]


def fit_spinnaker2(
    cfg: Spinnaker2Config | None = None, refs: ReferenceSet | None = None
) -> FitResult:
    """Least-squares fit of the unpublished SpiNNaker2 parameters to the ``use: fit`` refs."""
    cfg = cfg or load_spinnaker2()
    refs = refs or load_references("spinnaker2")
    mine = [r for r in refs.references if r.chip == "spinnaker2"]
    fit_refs = [r for r in mine if r.use == "fit"]
    model = _Model(cfg, fit_refs)
    probe = model.unpack(model.x0())
    unusable = [r.name for r in fit_refs if model.predict(r, probe) is None]
    if unusable:
        raise CalibrationError(f"fit references the SpiNNaker2 model cannot predict: {unusable}")
    if len(fit_refs) < len(model.names):
        raise CalibrationError(
            f"{len(fit_refs)} fit references for {len(model.names)} unknowns {model.names}"
        )

    def residuals(x: np.ndarray) -> np.ndarray:
        p = model.unpack(x)
        return np.array([model.predict(r, p) / r.value - 1.0 for r in fit_refs])

    sol = least_squares(residuals, model.x0(), bounds=(0.0, np.inf), x_scale="jac",
                        xtol=1e-14, ftol=1e-14, gtol=1e-14)
    params = model.unpack(sol.x)
    predictions = {r.name: v for r in mine if (v := model.predict(r, params)) is not None}
    return FitResult(params, predictions, bool(sol.success), str(sol.message))


def main() -> None:
    result = fit_spinnaker2()
    print(f"# fit converged: {result.success} ({result.message})")
    for path, value in result.params.items():
        print(f"{path}: {value:.4g}")


if __name__ == "__main__":
    main()
