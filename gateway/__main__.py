"""``python -m gateway`` runs the ``alert-gateway`` command line."""

from gateway.cli import main

main()
