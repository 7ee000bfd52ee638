"""Config text the tests share: a small search over the README's linear-regression ops."""

# Memory, ops, sizes and the start of [evolution]; a test appends the rest of its config.
SMALL_SEARCH = """\
[memory]
scalars = 4
vectors = 3
matrices = 1

[ops]
setup = ["SCALAR_CONST_SET_OP"]
predict = ["VECTOR_INNER_PRODUCT_OP"]
learn = ["SCALAR_DIFF_OP", "SCALAR_PRODUCT_OP", "SCALAR_VECTOR_PRODUCT_OP", "VECTOR_SUM_OP"]

[sizes]
setup_init = 1
predict_init = 1
learn_init = 4

[evolution]
population_size = 10
tournament_size = 3
initial_population = "random"
"""


def with_section(text: str, edit: str, section: str) -> str:
    """``text`` followed by ``edit``, a ``[section]`` table; lines of ``edit`` before it that
    start with ``[evolution]`` go into the config's own ``[evolution]`` (a strategy, say)."""
    if edit.startswith("[evolution]"):
        head, body = edit.split(f"[{section}]\n")
        text = text.replace("[evolution]\n", head)
        edit = f"[{section}]\n" + body
    return f"{text}\n{edit}"
