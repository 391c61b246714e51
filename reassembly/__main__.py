"""``python -m reassembly``: the command line."""

from reassembly.cli import main

main()
