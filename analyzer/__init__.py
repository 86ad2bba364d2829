"""jaxlint.analyzer: lower a call at several sizes n, measure the StableHLO program, fit its growth."""
