"""Built-in checks, one module per area: host, pf, vf, guest.

Each check is a function decorated with :func:`sriovcheck.api.check`; rules in
``rules/*.yaml`` bind ids, severities and fixes to them.
"""
