"""``python -m azcompile.search.cli``: the ``azc`` command."""
from .startup import main

main()
