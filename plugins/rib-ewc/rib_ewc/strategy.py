"""The "ewc" strategy: full fine-tuning plus lambda * sum_i F_i (theta_i - theta0_i)^2."""

from __future__ import annotations

import logging
import warnings

from rib_core.api import Option, Strategy, TrainContext

from rib_ewc.fisher import LABEL_MODES, cache_path, diagonal_fisher, load_cached, save_cached

log = logging.getLogger(__name__)


class EWC(Strategy):
    """Elastic Weight Consolidation (Kirkpatrick et al., 2017) from the pretrained model.

    F is the pretrained model's diagonal Fisher information on the anchor set (the suite's reference set,
    ImageNet-1k val; the fine-tuning set, with a warning, when the suite has none), from `fisher_samples`
    images with `labels` "sampled" (drawn from the model: the true Fisher) or "empirical" (the images' labels).
    The penalty has no 1/2: with the true Fisher, sum F (theta - theta0)^2 is about 2 KL(p_theta0 || p_theta)
    on the anchor set, so the default lambda = 1 weighs "how much the pretrained predictions moved" like the
    cross-entropy. (The reference code's "EWC" had no Fisher at all: that is rib's l2-sp with weight 1.)
    """

    accepted_options = {
        "lambda": Option(float, default=1.0, minimum=0.0, check=float, help="weight of the EWC penalty"),
        "fisher_samples": Option(int, default=1024, minimum=1, help="anchor images the Fisher information is "
                                 "estimated from"),
        "labels": Option(str, default="sampled", choices=LABEL_MODES, help="\"sampled\" from the model (the true "
                         "Fisher) or \"empirical\" (the images' labels)"),
    }

    def setup(self, ctx: TrainContext) -> None:
        super().setup(ctx)  # every parameter trains
        fisher = self.fisher(ctx)
        terms = []
        for name, p in ctx.model.named_parameters():
            theta0 = ctx.pretrained_state[name].to(device=p.device, dtype=p.dtype)
            terms.append((p, fisher[name].to(device=p.device, dtype=p.dtype), theta0))
        ctx.state["ewc_terms"] = terms

    def extra_loss(self, ctx, images, logits, labels):
        penalty = sum((f * (p - p0).pow(2)).sum() for p, f, p0 in ctx.state["ewc_terms"])
        return self.params["lambda"] * penalty

    def fisher(self, ctx: TrainContext) -> dict:
        """The pretrained model's diagonal Fisher, from the cache in ctx.cache_dir when it is there.

        Called from setup, before any training step and before a checkpoint is restored, so ctx.model still
        holds the pretrained weights.
        """
        anchor, class_map = ctx.anchor_data, getattr(ctx.anchor_data, "class_map", None)
        if anchor is None:
            warnings.warn("ewc: the suite has no reference set, so the Fisher information is estimated on the "
                          "fine-tuning set itself. Add a reference set (ImageNet-1k val) to anchor EWC to the "
                          "pretraining distribution.", UserWarning, stacklevel=2)
            anchor, class_map = ctx.train_data, ctx.class_map
        samples, labels = self.params["fisher_samples"], self.params["labels"]
        # The first `samples` images of epoch 0 are used; their order may depend on the data's seed.
        key = {"format": 1, "backbone": ctx.backbone.identity, "anchor": str(anchor.identity),
               "order_seed": anchor.seed, "classes": class_map.digest(),
               "samples": samples, "labels": labels}
        shapes = {n: tuple(p.shape) for n, p in ctx.model.named_parameters()}
        path = cache_path(ctx.cache_dir, key) if ctx.cache_dir is not None else None
        if path is not None:
            cached = load_cached(path, key, shapes)
            if cached is not None:
                log.info("ewc: using the cached Fisher information %s", path)
                return cached
        fisher, used = diagonal_fisher(ctx.model, anchor.epoch(0), class_map.project, samples, labels)
        if used < samples:
            log.warning("ewc: the anchor set has only %d images; the Fisher information uses all of them "
                        "(fisher_samples = %d).", used, samples)
        if path is not None:
            save_cached(path, key, fisher, used)
        return fisher
