"""How a backbone wants its images: geometry (done once, cached as uint8) and normalisation (done on device).

The split matters for speed: resizing and cropping happen once per (dataset, geometry) when the decoded-image
cache is built; mean/std normalisation is a cheap device op applied per batch.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preprocess:
    input_size: int = 224  # side of the square crop fed to the model
    resize_size: int = 248  # shorter side after resize, before the centre crop (timm: input_size / crop_pct)
    interpolation: str = "bicubic"  # "bicubic" | "bilinear" | "nearest"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    def geometry_key(self) -> str:
        """Identifies the uint8 images this preprocessing produces (normalisation excluded)."""
        # "-tv": torchvision's (timm's) resize and crop arithmetic; caches of the earlier rounding are not reused.
        return f"{self.input_size}-{self.resize_size}-{self.interpolation}-tv"

    def to_uint8(self, image):
        """PIL image -> uint8 tensor (3, input_size, input_size): resize shorter side, centre crop."""
        import torch
        from PIL import Image

        resample = {"bicubic": Image.BICUBIC, "bilinear": Image.BILINEAR, "nearest": Image.NEAREST}[self.interpolation]
        image = image.convert("RGB")
        nw, nh = self.resized_size(*image.size)
        if (nw, nh) != image.size:
            image = image.resize((nw, nh), resample)
        # torchvision's center_crop (timm's eval transform): offsets int(round(excess / 2)), round half to even.
        left, top = int(round((nw - self.input_size) / 2.0)), int(round((nh - self.input_size) / 2.0))
        image = image.crop((left, top, left + self.input_size, top + self.input_size))
        return torch.frombuffer(bytearray(image.tobytes()), dtype=torch.uint8).view(
            self.input_size, self.input_size, 3).permute(2, 0, 1).contiguous()

    def resized_size(self, w: int, h: int) -> tuple[int, int]:
        """(width, height) after resizing the shorter side to resize_size, as torchvision's Resize(int) computes it
        for timm's eval transform: the long side is truncated, int(resize_size * long / short), not rounded."""
        if w <= h:
            return self.resize_size, max(self.input_size, int(self.resize_size * h / w))
        return max(self.input_size, int(self.resize_size * w / h)), self.resize_size

    def normalizer(self, device):
        """A function: uint8 batch (B,3,H,W) on `device` -> float32 batch normalised with `mean` and `std`.

        The one normalisation of rib (evaluation and training both use it). The mean/std tensors are made once,
        not per batch (on CUDA each creation is a blocking host-to-device copy), and the arithmetic runs in place
        on the one float copy (benchmarks/bench_eval_path.py measures it against a per-batch version).
        """
        import torch

        mean = torch.tensor(self.mean, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255
        std = torch.tensor(self.std, dtype=torch.float32, device=device).view(1, 3, 1, 1) * 255
        return lambda batch: batch.to(torch.float32, copy=True).sub_(mean).div_(std)  # copy: never the caller's

    def normalize(self, batch_uint8, dtype=None):
        """uint8 (B,3,H,W) on any device -> normalised tensor on the same device, float32 unless `dtype` is given
        (one batch; for many batches make `normalizer(device)` once)."""
        normalised = self.normalizer(batch_uint8.device)(batch_uint8)
        return normalised if dtype is None else normalised.to(dtype)
