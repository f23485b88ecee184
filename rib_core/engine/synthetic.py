"""Evaluation cells written through the real Store without running a model: for tests and the report benchmark.

The files are exactly what the runner writes (predictions.safetensors with positions, labels, top_idx, top_prob,
group_index, cluster_index; record.json naming the file's checksum), so `rib report` and `rib status` cannot
tell them from real ones.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rib_core.engine.store import Store, atomic_write_bytes


def write_eval_cell(store: Store, key: str, positions, labels, top1, group_names: list[str] | None = None,
                    group_index=None, cluster_index=None, accuracy: float | None = None) -> None:
    """Store one complete evaluation whose top-1 predictions are `top1` (top-5 padded with other classes)."""
    from safetensors.numpy import save

    positions = np.asarray(positions, dtype=np.int64)
    labels = np.asarray(labels, dtype=np.int64)
    top1 = np.asarray(top1, dtype=np.int32)
    top_idx = np.empty((len(top1), 5), dtype=np.int32)
    top_idx[:, 0] = top1
    top_idx[:, 1:] = (top1[:, None] + np.arange(1, 5, dtype=np.int32)) % 1000
    top_prob = np.tile(np.array([0.6, 0.2, 0.1, 0.06, 0.04], dtype=np.float32), (len(top1), 1))
    tensors = {"positions": positions, "labels": labels, "top_idx": top_idx, "top_prob": top_prob,
               "group_index": np.zeros(len(top1), np.int64) if group_index is None
               else np.asarray(group_index, dtype=np.int64)}
    if cluster_index is not None:
        tensors["cluster_index"] = np.asarray(cluster_index, dtype=np.int64)
    data = save(tensors)
    del tensors, top_idx, top_prob
    atomic_write_bytes(store.cell_dir(key) / "predictions.safetensors", data)
    if accuracy is None:
        from rib_core.engine.results import group_weights

        weights = group_weights(group_names, group_index if group_index is not None else np.zeros(len(top1)), len(top1))
        accuracy = float(100.0 * (weights * (top1 == labels)).sum()) if len(top1) else float("nan")
    store.write_record(key, {"kind": "eval", "accuracy": accuracy, "n_images": int(len(top1)),
                             "groups": list(group_names or []), "unreadable": [],
                             "files": {"predictions.safetensors": hashlib.sha256(data).hexdigest()}})
