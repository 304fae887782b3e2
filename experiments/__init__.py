"""Experiments on the custom optimizers: sweeps, reports, benchmarks, 2-D trajectories."""
