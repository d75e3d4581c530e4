"""One-click setups that reproduce the lecture's examples (and its failure modes)."""

from __future__ import annotations

from app.schemas import PresetOut, SessionConfig


def _preset(name: str, title: str, description: str, **config) -> PresetOut:
    return PresetOut(
        name=name, title=title, description=description, config=SessionConfig(**config)
    )


DEEP = [2] + [8] * 10 + [1]

PRESETS: list[PresetOut] = [
    _preset(
        "lecture",
        "Lecture: small tanh network",
        "2-4-1 tanh network, squared error (x(L) − y)² with y = ±1, one example per step.",
        layers=[2, 4, 1],
        activation="tanh",
        output="tanh",
        loss="squared",
        learning_rate=0.1,
        batch_size=1,
        dataset={"name": "xor", "n": 200, "noise": 0.1},
    ),
    _preset(
        "xor-hidden-plane",
        "What the hidden layer learned: XOR",
        "2-2-1 tanh on XOR: in the plane of x(1) the output unit's boundary is a straight "
        "line, and training moves the points until one line separates them.",
        layers=[2, 2, 1],
        activation="tanh",
        output="tanh",
        loss="squared",
        learning_rate=0.1,
        seed=1,
        dataset={"name": "xor", "n": 200, "noise": 0.1},
    ),
    _preset(
        "circle-hidden-space",
        "What the hidden layer learned: the circle",
        "2-3-1 tanh on the circle: x(1) is 3-D, shown by PCA; inside and outside come apart.",
        layers=[2, 3, 1],
        activation="tanh",
        output="tanh",
        loss="squared",
        learning_rate=0.1,
        seed=2,
        dataset={"name": "circle", "n": 200, "noise": 0.1},
    ),
    _preset(
        "circle-features",
        "Hand-made features: x1² and x2² on the circle",
        "No hidden layer: given x1² and x2², one tanh unit separates the circle by itself.",
        layers=[2, 1],
        features=["x1²", "x2²"],
        activation="tanh",
        output="tanh",
        loss="squared",
        learning_rate=0.05,
        dataset={"name": "circle", "n": 200, "noise": 0.1},
    ),
    _preset(
        "l2-weight-decay",
        "L2 regularisation on a wide network",
        "2-16-16-1 tanh with λ = 0.01: the update adds 2λW, pulling every non-bias weight "
        "towards 0; compare the weights with λ = 0.",
        layers=[2, 16, 16, 1],
        activation="tanh",
        output="tanh",
        loss="squared",
        learning_rate=0.05,
        batch_size=4,
        regularization={"kind": "l2", "strength": 0.01},
        dataset={"name": "xor", "n": 200, "noise": 0.3},
    ),
    _preset(
        "vanishing-sigmoid",
        "Vanishing gradients: 10 sigmoid layers",
        "θ' ≤ 1/4 at every sigmoid layer: δ shrinks as it travels back to layer 1.",
        layers=DEEP,
        activation="sigmoid",
        output="sigmoid",
        loss="squared",
        init={"scheme": "normal", "scale": 0.5},
        learning_rate=0.5,
        dataset={"name": "circle", "n": 200, "noise": 0.1},
    ),
    _preset(
        "deep-tanh",
        "The same depth with tanh",
        "10 tanh hidden layers, same data and initialisation: θ' ≤ 1, gradients shrink less.",
        layers=DEEP,
        activation="tanh",
        output="tanh",
        loss="squared",
        init={"scheme": "normal", "scale": 0.5},
        learning_rate=0.05,
        dataset={"name": "circle", "n": 200, "noise": 0.1},
    ),
    _preset(
        "deep-relu",
        "The same depth with ReLU and He initialisation",
        "10 ReLU hidden layers with He initialisation: the gradient reaches layer 1.",
        layers=DEEP,
        activation="relu",
        output="tanh",
        loss="squared",
        init={"scheme": "he", "scale": 1.0},
        learning_rate=0.01,
        dataset={"name": "circle", "n": 200, "noise": 0.1},
    ),
    _preset(
        "spiral-softmax",
        "3-class spiral with softmax",
        "Softmax output with cross-entropy −log h_y(x): δ(L) = h − onehot(y).",
        layers=[2, 16, 16, 3],
        activation="tanh",
        output="softmax",
        loss="cross_entropy",
        learning_rate=0.1,
        batch_size=8,
        dataset={"name": "spiral", "n": 300, "noise": 0.1, "classes": 3},
    ),
    _preset(
        "diverging",
        "A learning rate that diverges",
        "η = 5 on a linear network: the weights explode and the step is refused.",
        layers=[2, 4, 1],
        activation="identity",
        output="identity",
        loss="squared",
        learning_rate=5.0,
        dataset={"name": "gaussians", "n": 100, "noise": 0.1},
    ),
    _preset(
        "sine",
        "Regression on a noisy sine",
        "1-D regression y = sin(πx) + noise, identity output, squared error.",
        layers=[1, 16, 16, 1],
        activation="tanh",
        output="identity",
        loss="squared",
        learning_rate=0.05,
        batch_size=4,
        dataset={"name": "sine", "n": 100, "noise": 0.1},
    ),
]

PRESETS_BY_NAME = {p.name: p for p in PRESETS}
