"""`rib bench --weights`: local weights for a suite's model without editing the suite."""


def test_weights_option_points_a_model_at_a_local_file(tmp_path, run_rib, rib_registry, offline_hub):
    import timm
    from safetensors.torch import save_file

    tiny = {"depth": 1, "embed_dim": 32, "num_heads": 2, "img_size": 32}
    weights = tmp_path / "tiny.safetensors"
    save_file(timm.create_model("vit_tiny_patch16_224", pretrained=False, **tiny).state_dict(), str(weights))
    suite = tmp_path / "suite.toml"
    suite.write_text('[suites.s]\nmodels = [{name = "timm:vit_tiny_patch16_224.augreg_in21k_ft_in1k", model_kwargs = '
                     '{depth = 1, embed_dim = 32, num_heads = 2, img_size = 32}}]\n'
                     'datasets = ["imagenet-r", "imagenet-a"]\nstrategies = ["ft"]\n')
    without = run_rib("bench", "-c", str(suite), "--dry-run", "--no-calibrate")
    with_file = run_rib("bench", "-c", str(suite), "--dry-run", "--no-calibrate", "--weights", str(weights))
    assert "weights not in the local Hugging Face cache" in " ".join(without.stdout.split())
    assert "weights not in the local Hugging Face cache" not in " ".join(with_file.stdout.split())
    wrong = run_rib("bench", "-c", str(suite), "--dry-run", "--weights", "other=x.safetensors")
    assert wrong.exit_code == 2 and "has no model 'other'" in wrong.stderr
