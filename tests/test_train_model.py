"""The published networks, losses, gradient penalty, temperature schedule and gate against hand-computed values."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from cak_train.model import (  # noqa: E402
    Critic,
    Generator,
    SharedDetector,
    audit_stats,
    critic_loss,
    generator_loss,
    gradient_penalty,
    shift_means,
    temperature,
)

pytestmark = pytest.mark.train

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference"


def detector_with(weight: list[list[float]], bias: float, causal: bool = False) -> SharedDetector:
    detector = SharedDetector(causal=causal)
    with torch.no_grad():
        detector.conv.weight.copy_(torch.tensor(weight).reshape(1, 1, 3, 3))
        detector.conv.bias.fill_(bias)
    return detector


IDENTITY_KERNEL = [[0.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_temperature_schedule_is_linear_2_to_20_over_5_epochs() -> None:
    assert [temperature(e) for e in range(7)] == pytest.approx([2.0, 5.6, 9.2, 12.8, 16.4, 20.0, 20.0])
    assert temperature(99) == 20.0
    assert temperature(1, anneal_epochs=2) == pytest.approx(11.0)
    assert temperature(0, anneal_epochs=0) == 20.0


def test_gate_values() -> None:
    gen = Generator(SharedDetector())
    gen.set_epoch(5)
    c = torch.tensor([0.0, 0.3, 0.5])
    expected = [1 / (1 + math.exp(6.0)), 0.5, 1 / (1 + math.exp(-4.0))]
    assert gen.cak.gate(c).tolist() == pytest.approx(expected, rel=1e-6)
    gen.set_epoch(0)
    assert gen.cak.gate(torch.tensor([0.0])).item() == pytest.approx(1 / (1 + math.exp(0.6)), rel=1e-6)


def test_cak_layer_formula_and_identity_at_zero() -> None:
    gen = Generator(detector_with(IDENTITY_KERNEL, 0.1))
    gen.set_epoch(5)
    with torch.no_grad():
        gen.cak.scale.fill_(0.5)
    x = torch.rand(2, 1, 6, 5)
    c = torch.tensor([0.0, 0.8])
    y, patterns = gen(x, c)
    assert torch.allclose(patterns, x + 0.1)
    gate = 1 / (1 + math.exp(-(0.8 - 0.3) * 20))
    assert torch.equal(y[0], x[0])
    assert torch.allclose(y[1], x[1] + (x[1] + 0.1) * 0.8 * gate * 0.5, atol=1e-6)


def test_audit_violation_uses_shared_detector() -> None:
    detector = detector_with([[0.0] * 3] * 3, 0.25)
    critic = Critic(detector)
    assert critic.detector is detector
    v = critic.violation(torch.rand(2, 1, 8, 8), torch.tensor([0.25, 1.0]))
    assert v.tolist() == pytest.approx([0.0, 0.75], abs=1e-7)


def test_shift_means_by_hand() -> None:
    x = torch.arange(12.0).reshape(3, 4).numpy()
    table = shift_means(x)
    assert table[2, 2] == pytest.approx(x.mean())
    assert table[3, 2] == pytest.approx(x[1:].sum() / 12)  # x[p + (1, 0)]: rows 1.. are read, row 0 never
    assert table[0, 4] == pytest.approx(x[:1, 2:].sum() / 12)  # shift (-2, +2): row 0, columns 2..3
    valid = audit_stats(x)[1]
    assert valid[2, 2] == 1.0 and valid[0, 4] == pytest.approx((1 / 3) * (2 / 4))


@pytest.mark.parametrize("fixed_fake", [False, True])
def test_spectrogram_audit_equals_the_audit_of_the_whole_fake(fixed_fake: bool) -> None:
    torch.manual_seed(1)
    detector = SharedDetector()
    with torch.no_grad():
        detector.conv.weight.add_(0.05)
        detector.conv.bias.fill_(-0.03)
    generator, critic = Generator(detector), Critic(detector)
    generator.set_epoch(9)
    x, c = torch.rand(3, 1, 120, 160) ** 3, torch.tensor([0.0, 0.45, 0.9])
    fake, _ = generator(x, c)
    stats = torch.from_numpy(np.stack([audit_stats(s[0].numpy()) for s in x])).float()
    whole = critic.spectrogram_violation(stats, generator.cak.amount(c), c, fixed_fake=fixed_fake)
    assert torch.allclose(whole, critic.violation(fake, c), rtol=2e-3, atol=1e-6)


def test_spectrogram_audit_gradients() -> None:
    detector = detector_with([[0.1] * 3] * 3, 0.0)
    generator, critic = Generator(detector), Critic(detector)
    stats = torch.from_numpy(audit_stats(np.full((50, 50), 0.5))[None]).float()
    c = torch.tensor([1.0])
    amount = generator.cak.amount(c)
    critic.spectrogram_violation(stats, amount, c, fixed_fake=True).sum().backward()
    assert generator.cak.scale.grad is None  # the critic's audit treats the fake as given
    fixed = detector.conv.bias.grad.clone()
    detector.zero_grad()
    critic.spectrogram_violation(stats, generator.cak.amount(c), c, fixed_fake=False).sum().backward()
    assert generator.cak.scale.grad is not None and fixed.item() == -1.0  # mean(D(fake)) ~ 0.5 < c = 1
    assert detector.conv.bias.grad.item() < fixed.item()  # the generator also sees D inside its own fake


def test_critic_loss_terms() -> None:
    loss, w = critic_loss(torch.tensor([1.0, 3.0]), torch.tensor([0.0, 2.0]), torch.tensor(0.5), torch.tensor([0.1, 0.3]))
    assert w.item() == pytest.approx(1.0)
    assert loss.item() == pytest.approx(-1.0 + 10 * 0.5 + 2 * 0.2)


def test_generator_loss_terms() -> None:
    fake = torch.zeros(1, 1, 4, 4)
    real = torch.full((1, 1, 4, 4), 0.1)
    patterns = torch.full((1, 1, 4, 4), -0.5)
    loss = generator_loss(torch.tensor([1.0, -1.0]), torch.tensor([0.2, 0.4]), fake, real, patterns)
    assert loss.item() == pytest.approx(0.0 + 2 * 0.3 + 5 * 0.1 - 0.01 * math.log(0.5 + 1e-8), rel=1e-6)


class LinearCritic:
    """score(x) = <w, x>: its gradient is w everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        self.w = w

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1)


class QuadraticCritic:
    """score(x) = |x|^2 / 2: its gradient is x."""

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * (x**2).flatten(1).sum(1)


def test_gradient_penalty_linear_critic() -> None:
    w = torch.zeros(1, 1, 2, 2)
    w[0, 0, 0, 0] = 3.0
    gp = gradient_penalty(LinearCritic(w), torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2), torch.rand(3))
    assert gp.item() == pytest.approx((3.0 - 1.0) ** 2)


def test_gradient_penalty_interpolates_real_and_fake() -> None:
    real = torch.full((2, 1, 2, 2), 1.0)
    fake = torch.zeros(2, 1, 2, 2)
    gp = gradient_penalty(QuadraticCritic(), real, fake, torch.tensor([0.25, 1.0]))
    norms = [0.25 * 2.0, 1.0 * 2.0]
    assert gp.item() == pytest.approx(sum((n - 1) ** 2 for n in norms) / 2)


def test_gradient_penalty_is_differentiable_for_the_critic() -> None:
    critic = Critic(SharedDetector())
    gp = gradient_penalty(critic, torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16), torch.rand(2))
    gp.backward()
    assert critic.realism_net[0].weight.grad is not None and torch.isfinite(critic.realism_net[0].weight.grad).all()


def test_causal_detector_ignores_the_next_frame() -> None:
    detector = detector_with([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], 0.0, causal=True)
    assert detector.causal and torch.equal(detector.kernel()[0, 0, :, 2], torch.zeros(3))
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 2, 3] = 1.0
    y = detector(x)
    assert y[0, 0, :, 2].abs().sum() == 0
    assert y[0, 0, 2, 3] == 5.0 and y[0, 0, 2, 4] == 4.0


def test_initial_detector_is_small_with_zero_bias() -> None:
    torch.manual_seed(0)
    detector = SharedDetector()
    assert detector.conv.bias.item() == 0.0
    assert 0 < detector.conv.weight.abs().max().item() < 0.5
    assert Generator(detector).cak.scale.item() == 1.0


def test_published_checkpoint_loads_into_these_modules() -> None:
    ckpt = REFERENCE_DIR / "final_wgan_grain.pt"
    if not ckpt.exists():
        pytest.skip(f"published checkpoint not found in {REFERENCE_DIR}")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    detector = SharedDetector()
    Generator(detector).load_state_dict(state["generator"], strict=True)
    Critic(detector).load_state_dict(state["critic"], strict=True)
    assert torch.equal(detector.conv.weight, state["shared_detector"]["conv.weight"])
