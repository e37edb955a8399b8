from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class CommandType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COMMAND_UNSPECIFIED: _ClassVar[CommandType]
    STOP: _ClassVar[CommandType]
    CURTAIL: _ClassVar[CommandType]
    START: _ClassVar[CommandType]
    RESET: _ClassVar[CommandType]
COMMAND_UNSPECIFIED: CommandType
STOP: CommandType
CURTAIL: CommandType
START: CommandType
RESET: CommandType

class CommandRequest(_message.Message):
    __slots__ = ("turbine_id", "site_id", "command", "setpoint", "requested_by", "reason")
    TURBINE_ID_FIELD_NUMBER: _ClassVar[int]
    SITE_ID_FIELD_NUMBER: _ClassVar[int]
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    SETPOINT_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_BY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    turbine_id: str
    site_id: str
    command: CommandType
    setpoint: float
    requested_by: str
    reason: str
    def __init__(self, turbine_id: _Optional[str] = ..., site_id: _Optional[str] = ..., command: _Optional[_Union[CommandType, str]] = ..., setpoint: _Optional[float] = ..., requested_by: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class Decision(_message.Message):
    __slots__ = ("command_id", "outcome", "reason", "turbines", "excluded", "approval_expires_at_ms")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    TURBINES_FIELD_NUMBER: _ClassVar[int]
    EXCLUDED_FIELD_NUMBER: _ClassVar[int]
    APPROVAL_EXPIRES_AT_MS_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    outcome: str
    reason: str
    turbines: _containers.RepeatedScalarFieldContainer[str]
    excluded: _containers.RepeatedScalarFieldContainer[str]
    approval_expires_at_ms: int
    def __init__(self, command_id: _Optional[str] = ..., outcome: _Optional[str] = ..., reason: _Optional[str] = ..., turbines: _Optional[_Iterable[str]] = ..., excluded: _Optional[_Iterable[str]] = ..., approval_expires_at_ms: _Optional[int] = ...) -> None: ...

class ApproveRequest(_message.Message):
    __slots__ = ("command_id", "approved_by")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    APPROVED_BY_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    approved_by: str
    def __init__(self, command_id: _Optional[str] = ..., approved_by: _Optional[str] = ...) -> None: ...

class CommandAck(_message.Message):
    __slots__ = ("command_id", "turbine_id", "edge_id", "executed", "detail")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    TURBINE_ID_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    EXECUTED_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    turbine_id: str
    edge_id: str
    executed: bool
    detail: str
    def __init__(self, command_id: _Optional[str] = ..., turbine_id: _Optional[str] = ..., edge_id: _Optional[str] = ..., executed: bool = ..., detail: _Optional[str] = ...) -> None: ...

class AckReply(_message.Message):
    __slots__ = ("command_id", "status")
    COMMAND_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    command_id: str
    status: str
    def __init__(self, command_id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...
