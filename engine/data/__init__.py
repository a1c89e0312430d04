"""Data sets of the lab: circles (embedded), course .mat files, MNIST, CIFAR-10 and the offline digits."""
