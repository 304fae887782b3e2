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


class CausalSelfAttention(keras.layers.Layer):
    """nanoGPT's CausalSelfAttention without dropout: one matrix makes the
    queries, keys and values of every head; each position attends to itself
    and the positions before it; `projection` mixes the heads back."""

    def __init__(self, n_head, n_embd, projection_stddev, **kwargs):
        super().__init__(**kwargs)
        self.n_head, self.n_embd = n_head, n_embd
        self.projection_stddev = projection_stddev
        self.qkv = _dense(3 * n_embd, 0.02, "qkv")
        self.projection = _dense(n_embd, projection_stddev, "projection")

    def call(self, x):
        batch, length = keras.ops.shape(x)[0], keras.ops.shape(x)[1]
        heads = keras.ops.reshape(
            self.qkv(x), (batch, length, 3, self.n_head, self.n_embd // self.n_head)
        )
        query, key, value = (heads[:, :, i] for i in range(3))
        attended = keras.ops.dot_product_attention(query, key, value, is_causal=True)
        return self.projection(
            keras.ops.reshape(attended, (batch, length, self.n_embd))
        )

    def get_config(self):
        return {**super().get_config(), "n_head": self.n_head, "n_embd": self.n_embd,
                "projection_stddev": self.projection_stddev}  # fmt: skip


class Block(keras.layers.Layer):
    """nanoGPT's Block: x + attention(norm(x)), then x + MLP(norm(x)), the MLP
    4× wide with exact GELU; LayerNorm without an offset (nanoGPT's bias=False)."""

    def __init__(self, n_head, n_embd, projection_stddev, **kwargs):
        super().__init__(**kwargs)
        self.n_head, self.n_embd = n_head, n_embd
        self.projection_stddev = projection_stddev
        self.attention_norm = _layer_norm("attention_norm")
        self.attention = CausalSelfAttention(
            n_head, n_embd, projection_stddev, name="attention"
        )
        self.mlp_norm = _layer_norm("mlp_norm")
        self.mlp_in = _dense(4 * n_embd, 0.02, "mlp_in")
        self.mlp_out = _dense(n_embd, projection_stddev, "mlp_out")

    def call(self, x):
        x = x + self.attention(self.attention_norm(x))
        hidden = keras.activations.gelu(
            self.mlp_in(self.mlp_norm(x)), approximate=False
        )
        return x + self.mlp_out(hidden)

    def get_config(self):
        return {**super().get_config(), "n_head": self.n_head, "n_embd": self.n_embd,
                "projection_stddev": self.projection_stddev}  # fmt: skip


class PositionEmbedding(keras.layers.Layer):
    """Adds a learned vector per position, for up to `block_size` positions
    (nanoGPT's `wpe`); a shorter input takes the first ones."""

    def __init__(self, block_size, **kwargs):
        super().__init__(**kwargs)
        self.block_size = block_size

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.block_size, input_shape[-1]),
            initializer=_normal(0.02),
            name="embeddings",
        )

    def call(self, x):
        return x + self.embeddings[: keras.ops.shape(x)[1]]

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


class TiedOutput(keras.layers.Layer):
    """Logits from the token embedding's own matrix (nanoGPT ties `lm_head` to `wte`)."""

    def __init__(self, embedding, **kwargs):
        super().__init__(**kwargs)
        self.embedding = embedding

    def call(self, x):
        return keras.ops.matmul(x, keras.ops.transpose(self.embedding.embeddings))


def transformer(input_shape=(64,), classes=65, n_layer=4, n_head=4, n_embd=128):
    """nanoGPT's GPT (karpathy/nanoGPT model.py) in Keras layers, without
    dropout or biases: token and position embeddings, `n_layer` pre-norm
    blocks, a final LayerNorm, logits through the token embedding. Weights
    from N(0, 0.02); each block's two residual projections from
    N(0, 0.02/√(2·n_layer)). Input: windows of up to `input_shape[0]`
    token ids; output: `classes` logits at every position."""
    if n_embd % n_head:
        raise ValueError(f"n_embd ({n_embd}) must be a multiple of n_head ({n_head})")
    projection_stddev = 0.02 / (2 * n_layer) ** 0.5
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    embedding = keras.layers.Embedding(
        classes, n_embd, embeddings_initializer=_normal(0.02), name="token_embedding"
    )
    x = PositionEmbedding(input_shape[0], name="position_embedding")(
        embedding(tokens)
    )
    for index in range(n_layer):
        x = Block(n_head, n_embd, projection_stddev, name=f"block_{index}")(x)
    x = _layer_norm("final_norm")(x)
    logits = TiedOutput(embedding, name="logits")(x)
    return keras.Model(tokens, logits, name="transformer")


def _normal(stddev):
    return keras.initializers.RandomNormal(stddev=stddev)


def _dense(units, stddev, name):
    """A matrix without a bias (nanoGPT's bias=False), drawn from N(0, stddev)."""
    return keras.layers.Dense(
        units, use_bias=False, kernel_initializer=_normal(stddev), name=name
    )


def _layer_norm(name):
    return keras.layers.LayerNormalization(epsilon=1e-5, center=False, name=name)


MODELS = {
    "mlp": mlp,
    "cnn": cnn,
    "deepobs_2c2d": deepobs_2c2d,
    "transformer": transformer,
}


def build(name, seed, input_shape=(28, 28, 1), classes=10, **options):
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
    model = builder(tuple(input_shape), classes, **options)
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
