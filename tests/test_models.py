"""Networks built by name: shapes, parameter counts, config validation."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from mrs_lib.models import (
    CNNConfig,
    FCNNConfig,
    ModelConfigError,
    YAEConfig,
    build_model,
    count_parameters,
    resolve_config,
)
from mrs_lib.types import MODEL_NAMES


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """One torch thread per test: pytest-xdist workers must not oversubscribe the cores."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("name", MODEL_NAMES)
@pytest.mark.parametrize("rows", [1, 2, 4])
def test_tiny_models_map_rows_by_2048_to_five_outputs(name: str, rows: int) -> None:
    torch.manual_seed(0)
    model = build_model(name, {"preset": "tiny", "rows": rows}).eval()
    out = model(torch.randn(3, rows, 2048))
    assert out.shape == (3, 5)
    assert out.dtype == torch.float32
    assert torch.isfinite(out).all()


def test_yae_returns_concentrations_and_reconstruction() -> None:
    torch.manual_seed(0)
    model = build_model("yae", "tiny").eval()
    x = torch.randn(4, 2, 2048)
    conc, recon = model.forward_both(x)
    assert conc.shape == (4, 5)
    assert recon.shape == x.shape
    torch.testing.assert_close(conc, model(x))
    assert ((conc > 0) & (conc < 1)).all()  # sigmoid outputs


def test_paper_parameter_counts_match_the_published_sizes() -> None:
    """Oracle: the published sizes - Hatami FCNN ~68 M (64 x 1024 x 1024 dense),
    YAE encoder+decoder ~5.7 M.

    The FCNN's first dense layer alone is (2048/32 points x 2 x 512 CReLU channels) x 1024.
    """
    with torch.device("meta"):
        fcnn = build_model("fcnn", "paper")
        yae = build_model("yae", "paper")
        cnn = build_model("cnn", "paper")
    assert count_parameters(fcnn) == pytest.approx(68.2e6, rel=0.01)
    assert fcnn.head[1].weight.numel() == 64 * 1024 * 1024
    enc = 2048 * 1024 + 1024 * 512 + 512 * 256 + 256 * 128 + 1024 + 512 + 256 + 128
    dec = 128 * 256 + 256 * 512 + 512 * 1024 + 1024 * 2048 + 256 + 512 + 1024 + 2048
    quant = 2 * 128 * 384 + 384 + 384 * 5 + 5
    assert count_parameters(yae) == enc + dec + quant
    assert 30e6 < count_parameters(cnn) < 45e6  # "the large variant has ~39 M parameters"


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_cpu_presets_are_smaller_than_paper(name: str) -> None:
    with torch.device("meta"):
        assert count_parameters(build_model(name, "cpu")) <= count_parameters(
            build_model(name, "paper")
        )


def test_config_round_trip_and_overrides() -> None:
    cfg = resolve_config("cnn", {"preset": "cpu", "f1": 8})
    assert isinstance(cfg, CNNConfig) and cfg.f1 == 8
    assert CNNConfig.from_dict(cfg.to_dict()) == cfg
    f = resolve_config("fcnn", {"filters": [4, 8]})
    assert isinstance(f, FCNNConfig) and f.filters == (4, 8)
    assert FCNNConfig.from_dict(f.to_dict()) == f
    y = YAEConfig.from_dict({"encoder": [32, 8]})
    assert y.encoder == (32, 8)


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        ("cnn", {"f1": 0}, "key 'f1'"),
        ("cnn", {"pool": 0}, "key 'pool'"),
        ("cnn", {"dropout": 1.5}, "key 'dropout'"),
        ("cnn", {"filters1": 3}, "unknown key"),
        ("fcnn", {"filters": []}, "key 'filters'"),
        ("fcnn", {"filters": [8] * 12}, "key 'filters'"),
        ("yae", {"activation": "swish"}, "key 'activation'"),
        ("yae", {"preset": "huge"}, "key 'preset'"),
        ("mlp", None, "model name"),
    ],
)
def test_bad_configs_name_the_key(name: str, config: dict | None, match: str) -> None:
    with pytest.raises(ModelConfigError, match=match):
        build_model(name, config)  # type: ignore[arg-type]
