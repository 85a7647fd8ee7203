"""`python -m textgan` is the `textgan` console script (also what `torchrun -m textgan` runs)."""

from textgan.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
