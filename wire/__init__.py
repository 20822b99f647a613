"""The MQTT wire contract shared by the edge daemon and the central collector (stdlib only).

Topic names live in :mod:`wire.topics` (``topics.punches(device)``, ``topics.parse(topic)``),
payloads in :mod:`wire.messages` (frozen dataclasses, :func:`encode`, ``decode_*``), and every
contract violation is a :class:`MessageError` naming the field. Both sides import this package
and nothing of each other (architecture.md, "Layering").
"""

from wire import topics
from wire.errors import MessageError
from wire.messages import (
    MAX_BATCH_PUNCHES,
    MAX_PAYLOAD_BYTES,
    WIRE_VERSION,
    Ack,
    Action,
    Command,
    CommandResult,
    Message,
    ParamValue,
    Punch,
    PunchBatch,
    Status,
    decode_ack,
    decode_command,
    decode_command_result,
    decode_punch_batch,
    decode_status,
    encode,
)
from wire.topics import DeviceId, Kind, validate_device_id

__all__ = [
    "MAX_BATCH_PUNCHES",
    "MAX_PAYLOAD_BYTES",
    "WIRE_VERSION",
    "Ack",
    "Action",
    "Command",
    "CommandResult",
    "DeviceId",
    "Kind",
    "Message",
    "MessageError",
    "ParamValue",
    "Punch",
    "PunchBatch",
    "Status",
    "decode_ack",
    "decode_command",
    "decode_command_result",
    "decode_punch_batch",
    "decode_status",
    "encode",
    "topics",
    "validate_device_id",
]
