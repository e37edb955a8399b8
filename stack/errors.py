"""Errors raised by the local stack."""


class StackError(Exception):
    """Base class for local stack failures."""


class InstallError(StackError):
    """A service could not be installed from its registry."""


class StartError(StackError):
    """A service did not start or did not answer in time."""
