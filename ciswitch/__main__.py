"""Allow ``python -m ciswitch``."""

from ciswitch.cli import main

if __name__ == "__main__":
    main()
