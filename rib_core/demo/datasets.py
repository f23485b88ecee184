"""The demo domains as a dataset adapter: "demo-source" (the reference set) and five shifted domains.

Each domain is rendered once into <cache>/demo-data/v1/<domain>/<class>/<i>.png and then read like any image
folder, so the engine's splits, decoded-image cache and reports run exactly as they do on real data.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from rib_core.data.base import CheckResult, ClassMap, DatasetAdapter, Sample
from rib_core.demo import DATA_VERSION, DATASET_PREFIX, DOMAINS, LABEL_SPACE, data_dir, demo_part, terminal_progress
from rib_core.disk import writing
from rib_core.errors import ConfigError

IMAGES_PER_CLASS = 60
SEED = 0


def class_names() -> tuple[str, ...]:
    from rib_core.demo.render import CLASS_NAMES

    return CLASS_NAMES


def generate_domain(domain: str, destination: Path, *, images_per_class: int = IMAGES_PER_CLASS,
                    seed: int = SEED, progress=None) -> Path:
    """Render one domain into `destination`/<class>/<i>.png, unless it is already there.

    Atomic: the images are written to a temporary folder beside `destination`, which is then renamed, so a
    folder at `destination` is always complete. `progress(done, total)` is called as images are written.
    """
    from rib_core.demo import render

    destination = Path(destination)
    if destination.is_dir():
        return destination
    with writing(destination):  # a full disk: DiskFull, naming the folder
        destination.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{destination.name}.", suffix=".tmp", dir=destination.parent))
        try:
            total, done = images_per_class * len(render.CLASS_NAMES), 0
            for label, name in enumerate(render.CLASS_NAMES):
                (tmp / name).mkdir()
                for index in range(images_per_class):
                    render.render(domain, label, index, seed).save(tmp / name / f"{index}.png")
                done += images_per_class
                if progress is not None:
                    progress(done, total)
            tmp.chmod(0o755)  # mkdtemp's folders are private; the cache is not
            try:
                os.replace(tmp, destination)
            except OSError:
                if not destination.is_dir():  # not a concurrent run that finished first
                    raise
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return destination


def domain_of(name: str) -> str:
    """ "demo-photo" -> "photo", or an error listing the demo domains."""
    return demo_part(name, DATASET_PREFIX, DOMAINS, ConfigError, "dataset")


def ensure_all_domains(cache: Path | None = None, progress=None) -> Path:
    """Generate every demo domain that is not cached yet; `progress(done, total)` counts images over all."""
    root = data_dir(cache)
    per_domain = IMAGES_PER_CLASS * len(class_names())
    for k, domain in enumerate(DOMAINS):
        report = None if progress is None else (lambda done, total, k=k: progress(k * per_domain + done,
                                                                                  len(DOMAINS) * per_domain))
        generate_domain(domain, root / domain, progress=report)
    return root


class DemoDataset(DatasetAdapter):
    """One demo domain. The suite names it "demo-<domain>"; it arrives as options["adapter"] (or the label).

    With no root, the domain lives in the cache and is generated on first use; a root given by the suite is
    used as the domain's folder (generated there if it does not exist).
    """

    expected_classes = 10
    expected_images = 10 * IMAGES_PER_CLASS
    source_hint = "generated on first use (a few seconds, no download); delete the folder to regenerate it"

    def __init__(self, label: str, root: Path | None, options: dict | None = None):
        super().__init__(label, root, options)
        self.domain = domain_of(str(self.options.get("adapter") or label))
        #: Called as progress(done, total) while the domain is generated; None: a terminal bar if possible.
        self.progress = None

    def prepare(self) -> Path:
        """Generate the domain if needed and set `root`."""
        if self.root is None:
            self.root = data_dir() / self.domain
        if not self.root.is_dir():
            with terminal_progress(f"rendering {DATASET_PREFIX}{self.domain} (first run only)") as bar:
                generate_domain(self.domain, self.root, progress=self.progress or bar)
        return self.root

    def class_map(self) -> ClassMap:
        names = class_names()
        return ClassMap(label_space=LABEL_SPACE, names=names, groups=tuple((k,) for k in range(len(names))))

    def samples(self) -> list[Sample]:
        root = self.prepare()
        samples = [Sample(f"{name}/{file.name}", label)
                   for label, name in enumerate(class_names())
                   for file in (root / name).glob("*.png")]
        return sorted(samples, key=lambda s: s.path)

    def open_image(self, path: str):
        self.prepare()
        return super().open_image(path)

    def check(self, deep: bool = False) -> CheckResult:
        root = self.prepare()
        names = class_names()
        present = {p.name for p in root.iterdir() if p.is_dir()}
        counts = {name: len(list((root / name).glob("*.png"))) for name in names if name in present}
        result = CheckResult(dataset=self.label, found=True, root=str(root), looked_in=[str(root)],
                             images=sum(counts.values()), classes=len(counts),
                             expected_images=self.expected_images, expected_classes=self.expected_classes,
                             missing_classes=[n for n in names if n not in present],
                             unexpected_classes=sorted(present - set(names)))
        short = [n for n, c in counts.items() if c != IMAGES_PER_CLASS]
        if result.missing_classes or result.unexpected_classes or short:
            result.problems.append(f"the generated demo data in {root} is incomplete or was modified "
                                   f"(classes with a wrong image count: {', '.join(short) or 'none'}). "
                                   f"Delete that folder; it is regenerated on next use.")
            result.verdict = "partial"
        else:
            result.verdict = "ok"
        return result

    def identity(self) -> str:
        return f"{type(self).__module__}.{type(self).__name__}:{self.domain}:{DATA_VERSION}:seed={SEED}"
