"""Identity numbers (domain-id.md §1): the rules live in :mod:`wire.identity`.

They moved to the wire contract because a terminal checks the number a technician types before
it enrolls anyone, and the edge imports nothing of the central.
"""

from wire.identity import (
    DEFAULT_LOCAL_PATTERN,
    CheckedNumber,
    EmploymentType,
    InvalidIdentity,
    NumberKind,
    ParsedId,
    Sex,
    check_number,
    format_nip,
    lookup_forms,
    mask,
    normalize,
    normalize_local,
    parse_legacy_nip,
    parse_local,
    parse_nip,
    plausibility_warnings,
)

__all__ = [
    "DEFAULT_LOCAL_PATTERN",
    "CheckedNumber",
    "EmploymentType",
    "InvalidIdentity",
    "NumberKind",
    "ParsedId",
    "Sex",
    "check_number",
    "format_nip",
    "lookup_forms",
    "mask",
    "normalize",
    "normalize_local",
    "parse_legacy_nip",
    "parse_local",
    "parse_nip",
    "plausibility_warnings",
]
