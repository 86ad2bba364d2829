"""jaxlint.solver: an ODE solver engine on JAX + Equinox whose program does not grow with save points."""
