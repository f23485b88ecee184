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
