"""A PyTorch-style VAE step in miniature: encoder, reparameterization with fixed noise (no
randn_like, so the numbers are the library's, not its generator's), sigmoid decoder, BCE + KL
loss summed over the batch, Adam, then sampling under no_grad.

``main(torch)`` takes the library (PyTorch or chainrule) and returns what the script computed.
"""

import numpy as np


def data():
    """4 two-by-three 'images' in (0, 1), the noise of 3 steps and 2 latent samples."""
    generator = np.random.default_rng(2)
    images = generator.uniform(0.05, 0.95, size=(4, 1, 2, 3))
    return images, generator.standard_normal((3, 4, 2)), generator.standard_normal((2, 2))


def weights():
    generator = np.random.default_rng(3)
    shapes = {"fc1": (4, 6), "fc21": (2, 4), "fc22": (2, 4), "fc3": (4, 2), "fc4": (6, 4)}
    state = {}
    for name, shape in shapes.items():
        state[f"{name}.weight"] = generator.uniform(-0.6, 0.6, size=shape)
        state[f"{name}.bias"] = generator.uniform(-0.2, 0.2, size=shape[:1])
    return state


def main(torch):
    nn, F, optim = torch.nn, torch.nn.functional, torch.optim

    class VAE(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = nn.Linear(6, 4)
            self.fc21 = nn.Linear(4, 2)
            self.fc22 = nn.Linear(4, 2)
            self.fc3 = nn.Linear(2, 4)
            self.fc4 = nn.Linear(4, 6)

        def encode(self, x):
            h1 = F.relu(self.fc1(x))
            return self.fc21(h1), self.fc22(h1)

        def reparameterize(self, mu, logvar, eps):
            std = torch.exp(0.5 * logvar)
            return mu + eps * std

        def decode(self, z):
            return torch.sigmoid(self.fc4(F.relu(self.fc3(z))))

        def forward(self, x, eps):
            mu, logvar = self.encode(x.view(-1, 6))
            return self.decode(self.reparameterize(mu, logvar, eps)), mu, logvar

    def loss_function(recon_x, x, mu, logvar):
        bce = F.binary_cross_entropy(recon_x, x.view(-1, 6), reduction="sum")
        kld = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
        return bce + kld

    device = torch.device("cpu")
    images, noise, latent = data()
    model = VAE().to(device).double()
    model.load_state_dict({name: torch.tensor(value) for name, value in weights().items()})
    optimizer = optim.Adam(model.parameters(), lr=1e-2)

    x = torch.tensor(images).to(device)
    losses = []
    model.train()
    for step in range(3):
        optimizer.zero_grad()
        recon_batch, mu, logvar = model(x, torch.tensor(noise[step]).to(device))
        loss = loss_function(recon_batch, x, mu, logvar)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(x))

    model.eval()
    with torch.no_grad():
        sample = model.decode(torch.tensor(latent).to(device)).cpu()
        n = min(x.size(0), 2)
        comparison = torch.cat([x[:n], recon_batch.view(4, 1, 2, 3)[:n]])
    return {
        "losses": losses,
        "sample": sample.view(2, 1, 2, 3).numpy(),
        "comparison": comparison.detach().numpy(),
        "weights": {name: value.detach().cpu().numpy() for name, value in model.named_parameters()},
    }
