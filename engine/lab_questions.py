"""The lab's questions that nnlab's views answer, per stage: one line each, naming the question (part 2-ab or
2-cd, as numbered in the practical), what to look at and where (a Train panel view, cycled with v; a Compare
view; a CLI command). Shown on the Lab screen (ctrl+l) and in `nnlab stages --json`."""
from __future__ import annotations

_UNITS = "2-ab Q3, why tanh between the layers: Train panel 'units' (v), each hidden unit's map; --kind units"
_SATURATED = ("2-ab Q17, tanh' = 1 - tanh^2: panel 'activations', the share of saturated units (|tanh| > 0.97, "
              "gradient < 0.06)")
_LR_MLP = "2-ab Q11, the learning rate: panel 'gradients', each layer's update/weight ratio (about 1e-3 is healthy)"
_START_MLP = "the loss before training: epoch 0 of every curve (two classes: about ln 2 = 0.69)"
_CIRCLES = (_UNITS, _SATURATED, _LR_MLP, _START_MLP)

_START_CNN = ("2-cd Q17, the error at the start: epoch 0 of the curves (ten classes: about ln 10 = 2.30); "
              "nnlab runs show RUN, row 'before'")
_SIZES = "2-cd Q10-11, sizes and weights per layer: panel 'summary' (v); nnlab summary STAGE"
_FILTERS = ("what conv1 learns: panel 'filters' (its 32 filters); panel 'features' (i: next image), each conv "
            "layer's maps; --kind filters / --kind features")
_LR_CNN = "2-cd Q16, learning rate and batch size: panel 'gradients', the update/weight ratio per layer"
_DEAD = "dead units: panel 'activations', the share of ReLU units never active on the probe images"
_NORM = ("2-cd Q19-20, standardization: panel 'activations', conv1's pre-activation spread; Compare it with a "
         "cifar-base run (Compare, view 'gradients')")
_SCHED = ("2-cd Q26-27, why the schedule steadies learning: panel 'gradients', the update/weight ratio falls "
          "with the lr (the curves' lr column)")
_DROPOUT = ("2-cd Q33, dropout at train and at test time: panel 'activations', accuracy on the probe images with "
            "dropout active against eval mode")
_BATCHNORM = ("2-cd Q34, what batch norm changes: panel 'activations', each BN layer's gamma, beta, running mean "
              "and variance; Compare against cifar-dropout, view 'gradients'")
_CNN = (_START_CNN, _SIZES, _FILTERS, _LR_CNN, _DEAD)

QUESTIONS: dict[str, tuple[str, ...]] = {
    "circles-manual": _CIRCLES, "circles-autograd": _CIRCLES, "circles-nn": _CIRCLES, "circles-optim": _CIRCLES,
    "mnist-mlp": (_SATURATED, _LR_MLP, "the loss before training: epoch 0 of every curve (ten classes: about "
                  "ln 10 = 2.30)"),
    "circles-svm": (),
    "cifar-base": _CNN,
    "cifar-norm": (_NORM, *_CNN),
    "cifar-augment": _CNN,
    "cifar-scheduler": (_SCHED, *_CNN),
    "cifar-dropout": (_DROPOUT, _SCHED, *_CNN),
    "cifar-batchnorm": (_BATCHNORM, _DROPOUT, *_CNN),
}


def questions(stage: str) -> tuple[str, ...]:
    """The question lines of a stage (none for a stage not listed)."""
    return QUESTIONS.get(stage, ())
