"""nnlab's engine: the lab's data, models and trainers, the run store and the headless CLI.

Never imports textual; torch is imported lazily where possible.
"""
__version__ = "0.1.0"
