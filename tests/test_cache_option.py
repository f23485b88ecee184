"""`cache = "auto" | true | false`, per suite and per dataset: what is cached, what is streamed, what the dry run says."""

from __future__ import annotations

import pytest

from rib_core.config import load_suite
from rib_core.data.base import use_cache
from rib_core.data.imagenet_c import ImageNetC
from rib_core.data.imagenet_variants import ImageNetR
from rib_core.errors import ConfigError

SUITE = """
[suites.s]
models = ["timm:vit_tiny_patch16_224"]
datasets = [{{ name = "imagenet-r", cache = {r} }}, "imagenet-c"]
strategies = ["ft"]
{suite_cache}
"""


def load(tmp_path, r="true", suite_cache=""):
    path = tmp_path / "benchmarks.toml"
    path.write_text(SUITE.format(r=r, suite_cache=suite_cache))
    return load_suite(path, None)


def test_auto_streams_imagenet_c_and_caches_datasets_of_larger_files():
    assert not use_cache("auto", ImageNetC("imagenet-c", None, {}), 224)
    assert use_cache("auto", ImageNetC("imagenet-c", None, {}), 192)  # files larger than the input: cache
    assert use_cache("auto", ImageNetR("imagenet-r", None, {}), 224)  # sizes vary: cache
    assert not use_cache(False, ImageNetR("imagenet-r", None, {}), 224)
    assert use_cache(True, ImageNetC("imagenet-c", None, {}), 224)


def test_per_dataset_cache_overrides_the_suites(tmp_path):
    suite = load(tmp_path, r="false", suite_cache="cache = true")
    assert suite.cache is True and [d.cache for d in suite.datasets] == [False, None]
    assert load(tmp_path, r='"auto"').cache == "auto"  # the default


@pytest.mark.parametrize("r, suite_cache", [('"yes"', ""), ("1", ""), ("true", 'cache = "never"')])
def test_bad_cache_values_are_config_errors(tmp_path, r, suite_cache):
    with pytest.raises(ConfigError, match=r"cache: expected true, false or \"auto\""):
        load(tmp_path, r=r, suite_cache=suite_cache)


def test_dry_run_prints_the_cache_disk_of_each_dataset(tmp_path, run_rib, rib_registry):
    path = tmp_path / "benchmarks.toml"
    path.write_text(SUITE.format(r="false", suite_cache=""))
    result = run_rib("bench", "-c", str(path), "--dry-run", "--no-calibrate")
    assert result.exit_code == 0, result.stderr
    lines = {line.split("│")[0].strip(): line for line in result.stdout.splitlines() if "│" in line}
    assert "0 GB: streamed (cache = false)" in lines["cache imagenet-r"]
    assert "streamed (cache = auto, its files are 224 px)" in lines["cache imagenet-c"]
