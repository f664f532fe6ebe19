"""Fit the trainable top of a network on cached features: batches, early stopping, history."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FitSettings:
    """Optimiser and stopping settings of one training stage."""

    learning_rate: float = 1e-3
    epochs: int = 10
    batch_size: int = 32
    early_stopping: bool = False
    patience: int = 3
    class_weighted: bool = False
    seed: int = 42


@dataclass
class History:
    """Per-epoch loss and accuracy on train and val, and the epoch whose weights were kept."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    best_epoch: int = 0
    stage: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly copy."""
        return {k: (round(v, 5) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


def _batches_class() -> type:
    import keras

    class FeatureBatches(keras.utils.PyDataset):
        """float16 cached features → float32 batches, reshuffled every epoch when ``shuffle``."""

        def __init__(self, x: np.ndarray, y: np.ndarray, batch: int, shuffle: bool, seed: int) -> None:
            super().__init__()
            self.x, self.y, self.batch, self.shuffle = x, y, batch, shuffle
            self.rng = np.random.default_rng(seed)
            self.order = self.rng.permutation(len(x)) if shuffle else np.arange(len(x))

        def __len__(self) -> int:
            return math.ceil(len(self.x) / self.batch)

        def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
            chosen = np.sort(self.order[index * self.batch : (index + 1) * self.batch])
            return self.x[chosen].astype(np.float32), self.y[chosen]

        def on_epoch_end(self) -> None:
            if self.shuffle:
                self.order = self.rng.permutation(len(self.x))

    return FeatureBatches


def feature_batches(x: np.ndarray, y: np.ndarray, batch: int, shuffle: bool = False, seed: int = 0) -> Any:
    """A Keras dataset over cached features."""
    return _batches_class()(x, y, batch, shuffle, seed)


def balanced_class_weights(y: np.ndarray, n_classes: int) -> dict[int, float]:
    """Weights inversely proportional to class frequency (mean 1)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    weights = np.where(counts > 0, len(y) / (n_classes * np.maximum(counts, 1)), 0.0)
    return {i: float(w) for i, w in enumerate(weights)}


def fit(
    model: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray, y_val: np.ndarray, settings: FitSettings
) -> History:
    """Compile and train ``model`` (softmax output) with sparse cross-entropy; keep the best val-loss weights."""
    import keras

    keras.utils.set_random_seed(settings.seed)
    model.compile(
        optimizer=keras.optimizers.Adam(settings.learning_rate),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    callbacks = []
    if settings.early_stopping:
        callbacks.append(
            keras.callbacks.EarlyStopping(
                monitor="val_loss", patience=settings.patience, restore_best_weights=True, verbose=0
            )
        )
    n_classes = int(model.output.shape[-1])
    result = model.fit(
        feature_batches(x_train, y_train, settings.batch_size, shuffle=True, seed=settings.seed),
        validation_data=feature_batches(x_val, y_val, 128),
        epochs=settings.epochs,
        callbacks=callbacks,
        class_weight=balanced_class_weights(y_train, n_classes) if settings.class_weighted else None,
        verbose=2,
    )
    h = result.history
    history = History(
        loss=[float(v) for v in h["loss"]],
        accuracy=[float(v) for v in h["accuracy"]],
        val_loss=[float(v) for v in h["val_loss"]],
        val_accuracy=[float(v) for v in h["val_accuracy"]],
    )
    history.best_epoch = int(np.argmin(history.val_loss)) + 1 if settings.early_stopping else len(history.loss)
    return history


def predict_features(model: Any, x: np.ndarray, batch: int = 128) -> np.ndarray:
    """Model output for cached features, in float32 batches."""
    out = [np.asarray(model.predict_on_batch(x[i : i + batch].astype(np.float32))) for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, int(model.output.shape[-1])), dtype=np.float32)
