"""Build engines: where a cache build's training and inference run.

``build.run_build`` owns every step (data, splits, PCA, meta, the atomic write) and asks
an engine for the two that scale: ``train`` (returns ``training.Trained``) and ``infer``
(exit probabilities, pooled states and token counts per split, in sample order).

- ``engines.local.LocalEngine``: one process on one device (the default).
- ``engines.ray.RayEngine``: Ray Train ``TorchTrainer`` (DDP) for training, Ray Data
  ``map_batches`` over an actor pool for inference; an embedded local Ray, or the
  cluster named by ``RAY_ADDRESS``. Needs ``requirements-scale.txt``.

Many builds at once (a sweep file) run as Ray tasks: ``dimee_core.sweep``.
"""
