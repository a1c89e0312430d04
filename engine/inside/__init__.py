"""What happens inside a trained network, recorded at each epoch's end (config key `inspect`).

inspect=full (the default) records everything below; inspect=light keeps the per-epoch series (gradients,
activations) and drops the maps (unit maps, conv1 filters, feature maps); inspect=off records none of it.
Nothing here runs per batch: one real training step per epoch is measured on the device, a fixed probe
batch is passed through the network at the epoch's end, and the values are read to the host once.

Artifacts (artifacts/<stem>.json, each with "kind" and "epoch"):

gradients.json  kind "gradients": per layer, per epoch, from the epoch's last training step.
    layers        ["hidden", "output"] (MLP) or ["conv1", "conv2", "conv3", "fc4", "fc5"] (CNN)
    epochs        [1, 2, ...]
    grad_norm     {layer: [||dL/dtheta|| of that step's loss, per epoch]}   (theta: the layer's weight and bias)
    weight_norm   {layer: [||theta|| after the step, per epoch]}
    update_ratio  {layer: [||theta_after - theta_before|| / ||theta_before||, per epoch]}
    flags         {layer: "vanishing" | "exploding" | ""}  (engine.inside.steps.flag, on the last epochs)

activations.json  kind "activations": one fixed probe batch, eval mode, per epoch (epoch 0: before training).
    probe         what the probe is, in words
    layers        the layers whose output feeds a nonlinearity: ["hidden"] or ["conv1", "conv2", "conv3", "fc4"]
    nonlinearity  {layer: "tanh" | "relu"}
    epochs        [0, 1, 2, ...]
    quantiles     the levels, QUANTILES
    pre           {layer: [[one value per level] per epoch]}: the pre-activations (after batch norm if any)
    dead          {relu layer: [share of units (channels, neurons) never positive on the probe, per epoch]}
    saturated     {tanh layer: [share of outputs with |tanh| > SATURATED, per epoch]}
    bn            {bn layer: {"running_mean" | "running_var" | "weight" | "bias": [[per channel] per epoch]}}
                  (CNN with batchnorm=true; else {})
    dropout       {"train_acc", "eval_acc", "train_loss", "eval_loss": [per epoch]}: the same probe batch with
                  dropout active (train mode, batch norm left in eval mode) and in eval mode (CNN with dropout > 0;
                  else {})

filters-eNNNN.json  kind "filters" (CNN, inspect=full, at the maps epochs): conv1's weights.
    layer "conv1", shape [32, 3, 5, 5], weights: the flat list (row-major), 5 significant digits

features-eNNNN.json  kind "features" (CNN, inspect=full, at the maps epochs): the feature maps, after the ReLU,
    of each conv layer for the first N_FEATURE_IMAGES of the run's sample images.
    images        [test-set index per image]      true  [label per image]    labels  [class names]
    layers        [{"name": "conv1", "channels": 32, "size": 32,
                    "max": [[per channel max] per image], "maps": [base64 per image]}]
                  a map's bytes are channels x size x size uint8, round(255 * value / channel max)
                  (engine.inside.maps.decode_features gives the arrays back)

Maps epochs: 1, every maps_every-th and the last (the CNN's key; the MLP's unit maps follow grid_every).
The series files are rewritten at the maps epochs of the MLP (its epochs take milliseconds) and at every epoch
of the CNN.
"""
