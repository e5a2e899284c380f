"""``python -m civicloop.cli``: what ``civicloop`` runs."""

from civicloop.cli import main

main()
