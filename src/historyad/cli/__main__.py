"""``python -m historyad.cli``."""

from historyad.cli import main

main()
