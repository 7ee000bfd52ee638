"""Hand-written programs the tests share (one definition each)."""
from azcompile.program import Memory, Program, instructions

README_MEMORY = Memory(scalars=4, vectors=3, matrices=1, features=4)
README_LEARN = (("SCALAR_DIFF_OP", 0, 1, 3), ("SCALAR_PRODUCT_OP", 3, 2, 3),
                ("SCALAR_VECTOR_PRODUCT_OP", 3, 0, 2), ("VECTOR_SUM_OP", 1, 2, 1))


def readme_linear_regression(lr=0.001, *, memory=README_MEMORY, setup=(), predict=(), learn=(),
                             meta=None) -> Program:
    """The reference README's hand-written linear regression, with extra instructions
    appended per component:
        def Setup():   s2 = 0.001
        def Predict(): s1 = dot(v0, v1)
        def Learn():   s3 = s0 - s1; s3 = s3 * s2; v2 = s3 * v0; v1 = v1 + v2
    """
    return Program(
        setup=instructions([("SCALAR_CONST_SET_OP", 0, 0, 2, (lr, 0, 0, 0)), *setup]),
        predict=instructions([("VECTOR_INNER_PRODUCT_OP", 0, 1, 1), *predict]),
        learn=instructions([*README_LEARN, *learn]), memory=memory, meta=meta or {})


# The metadata a search writes with its best program (for tests of what exports show).
RUN_META = {"task": "linear_regression", "config_name": "demo", "select_fitness": 0.9999,
            "final_fitness": 0.9998, "seed": 7, "generation": 1234, "found_at_seconds": 56.7}
