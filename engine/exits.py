"""The exit codes of `nnlab`: 0 finished; 2 bad input (one line on stderr); 3 diverged; 130 interrupted
(Ctrl-C or SIGTERM); 1 anything else."""

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT, EXIT_DIVERGED, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# the code of each run status: engine.store.status.EXIT_CODE
