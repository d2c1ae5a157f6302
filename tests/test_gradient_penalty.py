"""A WGAN-GP critic step (Gulrajani et al. 2017): the critic's output at interpolates between real
and fake samples is differentiated w.r.t. those inputs with create_graph, the norm of that
gradient is penalised as (||grad|| - 1)^2, and backward goes through the penalty to the critic's
weights: a second derivative of the network. Its weight gradient is checked against float64
central differences of the penalised loss."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import autograd, nn, optim

PENALTY_WEIGHT = 10.0  # lambda of the paper


def make_critic(activation=nn.Tanh, seed=0):
    cr.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, 8), activation(), nn.Linear(8, 8), activation(), nn.Linear(8, 1)).double()


def samples(seed=0, n=6):
    rng = np.random.default_rng(seed)
    real = cr.tensor(rng.standard_normal((n, 3)) + 2.0)
    fake = cr.tensor(rng.standard_normal((n, 3)))
    eps = cr.tensor(rng.uniform(size=(n, 1)))  # one mixing weight per sample
    return real, fake, eps


def gradient_penalty(critic, real, fake, eps, create_graph=True):
    """mean over the samples of (||d critic / d x|| - 1)^2 at x = eps real + (1 - eps) fake."""
    interpolates = (eps * real + (1 - eps) * fake).detach().requires_grad_(True)
    (grad,) = autograd.grad(critic(interpolates).sum(), interpolates, create_graph=create_graph)
    norms = (grad * grad).sum(dim=1).sqrt()
    return ((norms - 1) ** 2).mean()


def critic_loss(critic, real, fake, eps, create_graph=True):
    """The critic's WGAN-GP loss: E[D(fake)] - E[D(real)] + lambda * penalty."""
    wasserstein = critic(fake).mean() - critic(real).mean()
    return wasserstein + PENALTY_WEIGHT * gradient_penalty(critic, real, fake, eps, create_graph)


def finite_difference_gradient(critic, loss, eps=1e-6):
    """Central differences of loss() w.r.t. every weight entry, as arrays shaped like the weights."""
    grads = []
    for p in critic.parameters():
        g = np.empty(p.shape)
        for i in np.ndindex(p.shape):
            saved = p._data[i]
            p._data[i] = saved + eps
            plus = float(loss()._data)
            p._data[i] = saved - eps
            minus = float(loss()._data)
            p._data[i] = saved
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


@pytest.mark.parametrize("activation", [nn.Tanh, nn.Sigmoid, nn.GELU])
def test_penalised_critic_step_weight_gradient_matches_finite_differences(activation):
    critic = make_critic(activation)
    real, fake, eps = samples()
    critic.zero_grad()
    loss = critic_loss(critic, real, fake, eps)
    loss.backward()
    assert loss.grad_fn is not None and all(p.grad is not None for p in critic.parameters())
    expected = finite_difference_gradient(critic, lambda: critic_loss(critic, real, fake, eps, create_graph=False))
    for (name, p), want in zip(critic.named_parameters(), expected):
        np.testing.assert_allclose(p.grad._data, want, rtol=1e-6, atol=1e-8, err_msg=name)


def test_the_penalty_alone_differentiates_to_the_weights():
    critic = make_critic()
    real, fake, eps = samples(seed=1)
    critic.zero_grad()
    gradient_penalty(critic, real, fake, eps).backward()
    expected = finite_difference_gradient(critic, lambda: gradient_penalty(critic, real, fake, eps, False))
    *reached, (last_bias, _) = list(critic.named_parameters())
    assert last_bias == "4.bias" and critic[4].bias.grad is None  # the input gradient does not depend on it
    for (name, p), want in zip(reached, expected):
        np.testing.assert_allclose(p.grad._data, want, rtol=1e-6, atol=1e-8, err_msg=name)
        assert np.abs(want).max() > 1e-4, name  # every other weight is reached through the input gradient
    np.testing.assert_array_equal(expected[-1], 0)


def test_training_on_the_penalty_drives_the_input_gradient_norm_to_one():
    critic = make_critic()
    optimizer = optim.Adam(critic.parameters(), lr=1e-2)
    real, fake, eps = samples(seed=2, n=32)
    before = float(gradient_penalty(critic, real, fake, eps)._data)
    for _ in range(200):
        optimizer.zero_grad()
        critic_loss(critic, real, fake, eps).backward()
        optimizer.step()
    after = float(gradient_penalty(critic, real, fake, eps)._data)
    assert before > 0.5 and after < 0.1 * before  # the critic became (about) 1-Lipschitz along the lines
    # ... and it still separates real from fake: a Wasserstein estimate above zero
    assert float((critic(real).mean() - critic(fake).mean())._data) > 1.0
