"""The small models every sweep trains, chosen by name."""

import keras


def mlp(input_shape=(28, 28, 1), classes=10):
    """784-256-128-10 with ReLU: a small cousin of DeepOBS's mnist_mlp."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(256, activation="relu", name="dense_1"),
            keras.layers.Dense(128, activation="relu", name="dense_2"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="mlp",
    )


def cnn(input_shape=(28, 28, 1), classes=10):
    """DeepOBS's 2c2d shape (conv-pool, conv-pool, dense, dense), narrowed for a CPU."""
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(
                16, 5, padding="same", activation="relu", name="conv_1"
            ),
            keras.layers.MaxPooling2D(2, name="pool_1"),
            keras.layers.Conv2D(
                32, 5, padding="same", activation="relu", name="conv_2"
            ),
            keras.layers.MaxPooling2D(2, name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(128, activation="relu", name="dense"),
            keras.layers.Dense(classes, name="logits"),
        ],
        name="cnn",
    )


def deepobs_2c2d(input_shape=(28, 28, 1), classes=10):
    """DeepOBS's 2c2d network, exactly (Schneider et al. 2019, the network of
    its mnist_2c2d and fmnist_2c2d test problems).

    From fsschneider/DeepOBS, deepobs/tensorflow/testproblems/_2c2d.py: two
    5×5 convolutions (32, then 64 filters, "same" padding, ReLU), each
    followed by 2×2 max pooling with stride 2 ("same"), a dense layer of
    1024 ReLU units and a linear layer of `classes` logits; every kernel
    drawn from a normal distribution with standard deviation 0.05 truncated
    at two deviations (TF1's `truncated_normal_initializer`, as Keras's
    `TruncatedNormal`), every bias 0.05. 3,274,634 weights for 28×28 inputs.
    """
    layer = {
        "kernel_initializer": keras.initializers.TruncatedNormal(stddev=0.05),
        "bias_initializer": keras.initializers.Constant(0.05),
    }
    return keras.Sequential(
        [
            keras.Input(input_shape),
            keras.layers.Conv2D(32, 5, padding="same", activation="relu",
                                name="conv_1", **layer),
            keras.layers.MaxPooling2D(2, strides=2, padding="same", name="pool_1"),
            keras.layers.Conv2D(64, 5, padding="same", activation="relu",
                                name="conv_2", **layer),
            keras.layers.MaxPooling2D(2, strides=2, padding="same", name="pool_2"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(1024, activation="relu", name="dense", **layer),
            keras.layers.Dense(classes, name="logits", **layer),
        ],
        name="deepobs_2c2d",
    )  # fmt: skip


MODELS = {"mlp": mlp, "cnn": cnn, "deepobs_2c2d": deepobs_2c2d}


def build(name, seed, input_shape=(28, 28, 1), classes=10):
    """The model `name` (a shipped one, or a builder's place, experiments/plugins.py)
    with initial weights fixed by `seed` alone.

    The same seed gives the same weights whichever optimizer trains it, so
    differences between runs come from the optimizer. A builder is called
    as `build(input_shape, classes)` and must return a keras.Model whose
    output is `classes` logits; ValueError otherwise.
    """
    from experiments import plugins

    if name in MODELS:
        builder = MODELS[name]
    elif plugins.is_plugin(name):
        try:
            builder = plugins.load(name)
        except plugins.PluginError as error:
            raise ValueError(f"model {error}") from None
    else:
        raise ValueError(f"Unknown model {name!r}; known: {', '.join(MODELS)}.")
    keras.utils.set_random_seed(seed)
    model = builder(tuple(input_shape), classes)
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"model {name} returned {type(model).__name__}, not a keras.Model"
        )
    outputs = model.output_shape
    if not isinstance(outputs, tuple) or outputs[-1] != classes:
        raise ValueError(
            f"model {name} outputs {outputs}; it must output {classes} logits, one "
            "per class of the data"
        )
    return model


# Validation and test sets are evaluated in batches of this many images
# (only memory and speed depend on it, not the numbers).
EVALUATION_BATCH_SIZE = 1024


def evaluate(model, x, y):
    """{"loss": …, "accuracy": …} of a compiled classifier on (x, y)."""
    return model.evaluate(
        x, y, batch_size=EVALUATION_BATCH_SIZE, verbose=0, return_dict=True
    )


def compile_classifier(model, optimizer, metrics=()):
    """Compiles `model` with the loss every job trains on: cross-entropy on its logits."""
    model.compile(
        optimizer=optimizer,
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=list(metrics),
    )
    return model


def load_pretrained(model, weights_path, new_layers=()):
    """Copies saved weights into `model`, except into the layers named in `new_layers`.

    The layers in `new_layers` keep their fresh initial weights: a new head
    for a new task, on top of pre-trained layers.
    """
    pretrained = keras.models.clone_model(model)
    pretrained.load_weights(weights_path)
    unknown = set(new_layers) - {layer.name for layer in model.layers}
    if unknown:
        raise ValueError(
            f"new_layers names no layer of {model.name}: {sorted(unknown)}; "
            f"its layers: {', '.join(layer.name for layer in model.layers)}"
        )
    for layer, source in zip(model.layers, pretrained.layers, strict=True):
        if layer.name not in new_layers:
            layer.set_weights(source.get_weights())
