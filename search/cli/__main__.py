"""``python -m azcompile.search.cli``: the ``azc`` program."""
from .program import main

main()
