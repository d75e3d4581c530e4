"""``python -m app`` does what the ``backprop-lab`` command does."""

from app.cli import main

if __name__ == "__main__":
    main()
