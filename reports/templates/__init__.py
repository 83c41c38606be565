# Makes the report templates an importable resource package (sriovcheck.templates).
