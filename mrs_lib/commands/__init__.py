"""Subcommands of ``mrs``, one module per pipeline stage.

Each module registers its subcommands with :func:`mrs_lib.cli.command`; the
modules are thin: they parse arguments and call the library functions that
the book's chapters call too.
"""
