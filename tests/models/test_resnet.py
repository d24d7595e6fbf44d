"""ResNet-50: torchvision state dicts load unchanged; numerics against a functional re-computation."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

from tests.models.helpers import isolate_cache, serve  # noqa: E402
from vidtrace.errors import ModelError  # noqa: E402
from vidtrace.models import weights  # noqa: E402
from vidtrace.models.resnet import ResNet50, resnet50  # noqa: E402

# torchvision's resnet50: (bottleneck width, blocks, first stride) per stage.
STAGES = [("layer1", 64, 3, 1), ("layer2", 128, 4, 2), ("layer3", 256, 6, 2), ("layer4", 512, 3, 2)]


def torchvision_shapes() -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision's resnet50().state_dict(), written out from its architecture."""
    shapes: dict[str, tuple[int, ...]] = {}

    def bn(prefix: str, c: int) -> None:
        for k in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{k}"] = (c,)
        shapes[f"{prefix}.num_batches_tracked"] = ()

    shapes["conv1.weight"] = (64, 3, 7, 7)
    bn("bn1", 64)
    cin = 64
    for name, width, blocks, _ in STAGES:
        for b in range(blocks):
            p = f"{name}.{b}"
            shapes[f"{p}.conv1.weight"] = (width, cin, 1, 1)
            bn(f"{p}.bn1", width)
            shapes[f"{p}.conv2.weight"] = (width, width, 3, 3)
            bn(f"{p}.bn2", width)
            shapes[f"{p}.conv3.weight"] = (4 * width, width, 1, 1)
            bn(f"{p}.bn3", 4 * width)
            if b == 0:
                shapes[f"{p}.downsample.0.weight"] = (4 * width, cin, 1, 1)
                bn(f"{p}.downsample.1", 4 * width)
            cin = 4 * width
    shapes["fc.weight"] = (1000, 2048)
    shapes["fc.bias"] = (1000,)
    return shapes


def random_state_dict(seed: int = 0) -> dict:
    """A torchvision-format ResNet-50 state dict with random values (activations stay O(1))."""
    g = torch.Generator().manual_seed(seed)
    state = {}
    for key, shape in torchvision_shapes().items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(7)
        elif key.endswith("running_var"):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith(("running_mean", ".bias")):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        elif len(shape) == 1:  # BN weight
            state[key] = 0.5 + 0.5 * torch.rand(shape, generator=g)
        else:  # conv / fc weight, He-scaled
            fan_in = int(torch.tensor(shape[1:]).prod())
            state[key] = torch.randn(shape, generator=g) * (2.0 / fan_in) ** 0.5
    # Keep the residual stream from growing through 16 blocks.
    for key, value in state.items():
        if key.endswith("bn3.weight"):
            state[key] = value * 0.2
    return state


@pytest.fixture(scope="module")
def state():
    return random_state_dict()


def bn_eval(x, state, prefix):
    return F.batch_norm(x, state[f"{prefix}.running_mean"], state[f"{prefix}.running_var"],
                        state[f"{prefix}.weight"], state[f"{prefix}.bias"], training=False, eps=1e-5)


def manual_stem(x, s):
    x = F.relu(bn_eval(F.conv2d(x, s["conv1.weight"], stride=2, padding=3), s, "bn1"))
    return F.max_pool2d(x, 3, 2, 1)


def manual_block(x, s, p, stride):
    out = F.relu(bn_eval(F.conv2d(x, s[f"{p}.conv1.weight"]), s, f"{p}.bn1"))
    out = F.relu(bn_eval(F.conv2d(out, s[f"{p}.conv2.weight"], stride=stride, padding=1), s, f"{p}.bn2"))
    out = bn_eval(F.conv2d(out, s[f"{p}.conv3.weight"]), s, f"{p}.bn3")
    if f"{p}.downsample.0.weight" in s:
        x = bn_eval(F.conv2d(x, s[f"{p}.downsample.0.weight"], stride=stride), s, f"{p}.downsample.1")
    return F.relu(out + x)


def manual_forward(x, s):
    """Every layer of ResNet-50 written out with torch.nn.functional: (stage activations, logits)."""
    x = manual_stem(x, s)
    acts = {}
    for name, _, blocks, stride in STAGES:
        for b in range(blocks):
            x = manual_block(x, s, f"{name}.{b}", stride if b == 0 else 1)
        acts[name] = x
    return acts, F.linear(x.mean(dim=(2, 3)), s["fc.weight"], s["fc.bias"])


def test_parameter_names_and_shapes_match_torchvision():
    got = {k: tuple(v.shape) for k, v in ResNet50().state_dict().items()}
    assert got == torchvision_shapes()
    assert sum(v.numel() for v in ResNet50().parameters()) == 25_557_032  # torchvision's count


def test_loads_through_the_weight_cache_and_computes_like_the_functional_network(monkeypatch, tmp_path, state):
    isolate_cache(monkeypatch, tmp_path)
    src = tmp_path / "resnet50-test.pth"
    torch.save(state, src)
    serve(monkeypatch, src, name="resnet50-test")
    model = resnet50(weights.path("resnet50-test"))
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    loaded = model.state_dict()
    assert loaded.keys() == state.keys()
    for key, value in state.items():
        assert torch.equal(loaded[key], value), key

    x = torch.randn(2, 3, 64, 80, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        assert torch.allclose(model.stem(x), manual_stem(x, state), atol=1e-5)
        h = torch.randn(1, 256, 12, 12, generator=torch.Generator().manual_seed(2))
        assert torch.allclose(model.layer2[0](h), manual_block(h, state, "layer2.0", 2), atol=1e-5)
        feats = model.features(x)
        logits = model(x)
    acts, ref_logits = manual_forward(x, state)
    for name, _, _, _ in STAGES:
        assert feats[name].shape == acts[name].shape
        assert torch.allclose(feats[name], acts[name], rtol=1e-4, atol=1e-4), name
    assert logits.shape == (2, 1000)
    assert torch.allclose(logits, ref_logits, rtol=1e-4, atol=1e-4)
    # Stage shapes for this input: strides 4, 8, 16, 32.
    assert [tuple(feats[n].shape[1:]) for n, *_ in STAGES] == [(256, 16, 20), (512, 8, 10), (1024, 4, 5), (2048, 2, 3)]


def test_features_stop_at_the_deepest_requested_stage(state):
    model = resnet50(state)
    x = torch.randn(1, 3, 32, 32)
    with torch.inference_mode():
        out = model.features(x, ["layer2"])
    assert list(out) == ["layer2"] and out["layer2"].shape == (1, 512, 4, 4)
    with pytest.raises(ValueError, match="layer5"):
        model.features(x, ["layer5"])


def test_wrong_state_dicts_are_model_errors(tmp_path, state):
    missing = dict(state)
    del missing["layer3.2.bn2.running_var"]
    with pytest.raises(ModelError, match="layer3.2.bn2.running_var"):
        resnet50(missing)
    wrong = dict(state)
    wrong["fc.weight"] = torch.zeros(10, 2048)
    with pytest.raises(ModelError, match="fc.weight"):
        resnet50(wrong)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelError, match=str(junk)):
        resnet50(junk)
