"""Built-in solvers. Each is registered under the ``reassembly.solvers`` entry-point group."""
