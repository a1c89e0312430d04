"""Part 2-ab: the MLP built four ways (manual, autograd, torch.nn, torch.optim)."""
