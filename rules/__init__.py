# Makes the built-in rule files an importable resource package (sriovcheck.builtin_rules).
