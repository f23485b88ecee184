import pytest


@pytest.fixture(autouse=True)
def offline_hub(tmp_path, monkeypatch):
    """An empty, offline Hugging Face cache: nothing can be downloaded, nothing is cached."""
    from huggingface_hub import constants

    hub = tmp_path / "hf" / "hub"
    hub.mkdir(parents=True)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    # huggingface_hub reads both at import time; the calls read these module attributes.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub))
    return hub


@pytest.fixture(autouse=True)
def rib_cache(tmp_path, monkeypatch):
    """A fresh RIB_CACHE_DIR per test, so zero-shot heads cached by one test never serve another."""
    cache = tmp_path / "rib-cache"
    monkeypatch.setenv("RIB_CACHE_DIR", str(cache))
    return cache


@pytest.fixture
def put_in_hf_cache(offline_hub):
    """put_in_hf_cache(repo_id, filename, source) -> sha256: lay `source` out in the cache as huggingface_hub does
    (snapshots/<commit>/<filename> -> blobs/<sha256>), so the loaders' real hub path finds it offline."""
    import hashlib
    import shutil
    from pathlib import Path

    def put(repo_id, filename, source):
        repo = offline_hub / ("models--" + repo_id.replace("/", "--"))
        digest = hashlib.sha256(Path(source).read_bytes()).hexdigest()
        (repo / "blobs").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, repo / "blobs" / digest)
        snapshot = repo / "snapshots" / ("0" * 40)
        snapshot.mkdir(parents=True, exist_ok=True)
        (snapshot / filename).symlink_to(Path("..") / ".." / "blobs" / digest)
        (repo / "refs").mkdir(exist_ok=True)
        (repo / "refs" / "main").write_text("0" * 40)
        return digest

    return put
