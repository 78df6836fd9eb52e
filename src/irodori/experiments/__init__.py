"""Experiments that train and evaluate together (the paper's Table 1); they use ``train`` and ``eval``,
which do not depend on them."""
