"""Sweeps and searches as Optuna studies: the search space (space.py), where a study lives (storage.py),
one trial as a normal nnlab run (trial.py), worker processes (workers.py), and the read API that the CLI
and the TUI show (report.py)."""
