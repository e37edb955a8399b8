"""The safety layer: the freeze monitor, the command gate (gRPC ControlService) and its book."""


class SafetyError(RuntimeError):
    """Base of the safety layer's errors."""
