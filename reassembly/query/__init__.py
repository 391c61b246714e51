"""Query-only tasks ("Sequencing the Neurome"): the solver learns about the original network only
through an oracle ``query(X) -> outputs`` whose answers the harness counts against a budget.

:mod:`~reassembly.query.oracle` (the oracle and its count), :mod:`~reassembly.query.problem`
(query-only reassembly: pieces and an oracle, no ``pred`` table), :mod:`~reassembly.query.mlp`
(small ReLU networks, their isomorphisms and canonical form) and :mod:`~reassembly.query.blackbox`
(black-box parameter reconstruction problems).
"""
