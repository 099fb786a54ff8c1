"""Comparisons of simulated figures with published measurements (they compare, never tune)."""
