from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Iterable as _Iterable, Mapping as _Mapping, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SensorReading(_message.Message):
    __slots__ = ("turbine_id", "sensor_id", "sensor_type", "ts_unix_ms", "value")
    TURBINE_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_ID_FIELD_NUMBER: _ClassVar[int]
    SENSOR_TYPE_FIELD_NUMBER: _ClassVar[int]
    TS_UNIX_MS_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    turbine_id: str
    sensor_id: str
    sensor_type: str
    ts_unix_ms: int
    value: float
    def __init__(self, turbine_id: _Optional[str] = ..., sensor_id: _Optional[str] = ..., sensor_type: _Optional[str] = ..., ts_unix_ms: _Optional[int] = ..., value: _Optional[float] = ...) -> None: ...

class TelemetryBatch(_message.Message):
    __slots__ = ("batch_id", "edge_id", "readings")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    EDGE_ID_FIELD_NUMBER: _ClassVar[int]
    READINGS_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    edge_id: str
    readings: _containers.RepeatedCompositeFieldContainer[SensorReading]
    def __init__(self, batch_id: _Optional[str] = ..., edge_id: _Optional[str] = ..., readings: _Optional[_Iterable[_Union[SensorReading, _Mapping]]] = ...) -> None: ...

class Rejection(_message.Message):
    __slots__ = ("index", "msg_id", "reason_code", "detail")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    REASON_CODE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    index: int
    msg_id: str
    reason_code: str
    detail: str
    def __init__(self, index: _Optional[int] = ..., msg_id: _Optional[str] = ..., reason_code: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("batch_id", "received", "accepted", "rejected")
    BATCH_ID_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ACCEPTED_FIELD_NUMBER: _ClassVar[int]
    REJECTED_FIELD_NUMBER: _ClassVar[int]
    batch_id: str
    received: int
    accepted: int
    rejected: _containers.RepeatedCompositeFieldContainer[Rejection]
    def __init__(self, batch_id: _Optional[str] = ..., received: _Optional[int] = ..., accepted: _Optional[int] = ..., rejected: _Optional[_Iterable[_Union[Rejection, _Mapping]]] = ...) -> None: ...
