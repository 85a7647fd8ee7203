"""textgan: adversarial text generation in PyTorch (SeqGAN-style REINFORCE, Gumbel-softmax, professor forcing)."""

__version__ = "0.1.0"
