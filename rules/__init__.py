"""jaxlint.rules: libcst lint rules for the source patterns that make a JAX program grow."""
