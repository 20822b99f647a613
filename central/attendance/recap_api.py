"""Operator endpoints of the monthly recap: LB.1 and LB.2 as JSON, CSV, XLSX or PDF; finalise.

All need the admin token (:func:`central.api.auth.require_admin`). A finalised month is served
from its snapshot; if the data now computes to other numbers the response still carries the
signed numbers, with ``drift`` in the JSON and the ``X-Recap-Drift`` header set, so nobody is
paid from silently changed figures. Include with ``app.include_router(router, responses=ERRORS)``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import Connection, select

from central import registry
from central.api.auth import ApiError, ErrorBody, require_admin, state
from central.attendance import export, recap
from central.schema.registry import person

MONTH_PATTERN = r"^(19|20|21)\d\d-(0[1-9]|1[0-2])$"
_MONTH = Annotated[str, Path(pattern=MONTH_PATTERN, description="YYYY-MM", examples=["2026-11"])]
_UNIT = Annotated[
    str | None, Query(max_length=200, description="Unit code or name; omitted: every unit")
]
_FORMAT = Annotated[Literal["json", "csv", "xlsx", "pdf"], Query(alias="format")]
# Control characters cannot go into a PDF or an XLSX cell (openpyxl refuses them): a 422 with
# the field named, not a 500, is the answer to them.
_NAME = Annotated[
    str,
    Query(
        max_length=200,
        pattern=r"^[^\x00-\x1f\x7f]*$",
        description="For the signature block (no control characters)",
    ),
]
_FILES = {
    "content": {
        "application/json": {},
        "text/csv": {},
        export.MEDIA_TYPES["xlsx"]: {},
        "application/pdf": {},
    },
    "description": "The recap in the asked format",
}
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: _FILES,
    404: {"model": ErrorBody, "description": "No such unit or person"},
    422: {"model": ErrorBody, "description": "A malformed month or parameter"},
}

router = APIRouter(tags=["recap"], dependencies=[Depends(require_admin)])


def _unit_id(conn: Connection, key: str | None) -> int | None:
    if key is None or not key.strip():
        return None
    try:
        found = registry.find_unit(conn, key)
    except registry.Conflict as exc:
        raise ApiError(422, "ambiguous_unit", str(exc)) from exc
    if found is None:
        raise ApiError(404, "unknown_unit", f"Unit {key!r} tidak ditemukan (No such unit)")
    return found.id


def _file(doc: export.Document, fmt: str, checksum: str, drift: str | None) -> Response:
    headers = {
        "Content-Disposition": f'attachment; filename="{doc.filename}.{fmt}"',
        "X-Recap-Checksum": checksum,
    }
    if drift:
        headers["X-Recap-Drift"] = drift.encode("ascii", "replace").decode()
    return Response(export.render(doc, fmt), media_type=export.MEDIA_TYPES[fmt], headers=headers)


@router.get("/v1/recap/{month}", response_class=Response, responses=RESPONSES)
def get_recap(
    request: Request,
    month: _MONTH,
    *,
    unit: _UNIT = None,
    fmt: _FORMAT = "json",
    kepala: _NAME = "",
    nip_kepala: _NAME = "",
    operator: _NAME = "",
) -> Response:
    """LB.1: the month of one unit (or of every unit), one row per person.

    A finalised month comes from its snapshot (``finalized`` true); ``drift`` tells when the
    data now computes differently. ``kepala``, ``nip_kepala`` and ``operator`` fill the
    signature blocks of the XLSX and PDF.
    """
    st = state(request)
    with st.engine.connect() as conn:
        unit_id = _unit_id(conn, unit)
        result = recap.load(conn, month, unit_id, now=st.now())
    if fmt == "json":
        headers = {"X-Recap-Checksum": result.checksum}
        return JSONResponse(result.to_json(), headers=headers)
    doc = export.lb1_document(
        result, generated_at=st.now(), head_name=kepala, head_nip=nip_kepala, operator=operator
    )
    return _file(doc, fmt, result.checksum, result.drift)


@router.get("/v1/recap/{month}/people/{person_id}", response_class=Response, responses=RESPONSES)
def get_person_recap(
    request: Request,
    month: _MONTH,
    person_id: Annotated[int, Path(ge=1, le=2**31 - 1)],
    *,
    fmt: _FORMAT = "json",
    kepala: _NAME = "",
    nip_kepala: _NAME = "",
    operator: _NAME = "",
) -> Response:
    """LB.2: one person's month, the summary row(s) and every day."""
    st = state(request)
    with st.engine.connect() as conn:
        if conn.execute(select(person.c.id).where(person.c.id == person_id)).first() is None:
            raise ApiError(404, "unknown_person", "Pegawai tidak ditemukan (No such person)")
        pr = recap.person_recap(conn, month, person_id)
    if fmt == "json":
        return JSONResponse(
            {
                "month": str(pr.month),
                "person_id": pr.person_id,
                "rows": [r.to_json() for r in pr.rows],
                "days": [_day_json(d) for d in pr.days],
                "finalized_units": pr.finalized,
                "drift": pr.drift,
            }
        )
    doc = export.lb2_document(
        pr, generated_at=st.now(), head_name=kepala, head_nip=nip_kepala, operator=operator
    )
    return _file(doc, fmt, "", "; ".join(pr.drift) or None)


def _day_json(d: recap.DayRow) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in recap.DayRow.__dataclass_fields__:
        value = getattr(d, key)
        if isinstance(value, Decimal):
            value = f"{value:.2f}"
        elif hasattr(value, "isoformat"):
            value = value.isoformat()
        out[key] = value
    return out


class FinalizeRequest(BaseModel):
    """Freeze a unit's month."""

    unit: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    by: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)] = (
        Field(description="Who finalises (recorded)")
    )
    checksum: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="The checksum of the draft that was reviewed; refused if the month moved",
    )


class FinalizeResponse(BaseModel):
    """The frozen month."""

    month: str
    unit: str
    checksum: str
    rows: int
    finalized_by: str
    run_id: int


@router.post(
    "/v1/recap/{month}/finalize",
    responses={
        404: {"model": ErrorBody, "description": "No such unit"},
        409: {"model": ErrorBody, "description": "Already final, PENDING days, or data moved"},
    },
)
def finalize_recap(request: Request, month: _MONTH, body: FinalizeRequest) -> FinalizeResponse:
    """Finalise a unit's month: its snapshot becomes the numbers TPP is paid from."""
    st = state(request)
    with st.engine.begin() as conn:
        unit_id = _unit_id(conn, body.unit)
        if unit_id is None:  # pragma: no cover - min_length=1 after stripping
            raise ApiError(404, "unknown_unit", "Unit wajib diisi (A unit is required)")
        try:
            done = recap.finalize(
                conn, month, unit_id, body.by, checksum=body.checksum, now=st.now()
            )
        except recap.RecapError as exc:
            raise ApiError(409, "recap_refused", str(exc)) from exc
    return FinalizeResponse(
        month=str(done.month),
        unit=done.unit_code,
        checksum=done.checksum,
        rows=len(done.rows),
        finalized_by=done.finalized_by or body.by,
        run_id=done.run_id or 0,
    )
