"""The 2-D landscapes: the surfaces, the optimizers' paths on them (computed by
the library's own classes), their pictures and basins, the theory on the
ravine, and the explorer's page. `python -m experiments.trajectories` and
`python -m experiments.explorer` are their commands.
"""
