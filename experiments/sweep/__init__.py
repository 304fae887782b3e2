"""The sweep engine: configs and axes, the plan and resume, executors, one
training run, and what each run leaves on disk. `python -m experiments.sweep`
runs it (`command.py`).
"""
