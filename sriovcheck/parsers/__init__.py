"""Pure parsers: text in, frozen data out, or :class:`sriovcheck.errors.ParseError`.

One module per format.  No parser touches the filesystem or runs anything.
"""
