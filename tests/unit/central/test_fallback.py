"""The central opens mobile check-in at a site whose terminals are down, and closes it after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from central import registry
from central.db import make_engine
from central.devices import add_device
from central.fallback import AUTOMATIC, review_sites
from central.schema import device, mobile_fallback_event

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)  # 08:00 WITA


def test_fallback_opens_when_all_terminals_are_down_and_closes_when_one_returns(
    db_url: str,
) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        unit = registry.add_unit(
            conn, "DUKCAPIL", "Dinas Dukcapil", channel=registry.Channel.FINGERPRINT
        )
        st = registry.add_site(conn, unit_id=unit.id, name="Kantor Dukcapil", lat=-10.17, lon=123.6)
        for dev in ("dukcapil-1", "dukcapil-2"):
            add_device(conn, dev, NOW)
            registry.assign_device(conn, dev, st.id)
            conn.execute(
                update(device).where(device.c.id == dev).values(online=True, last_status_at=NOW)
            )
    window = timedelta(minutes=10)
    with engine.begin() as conn:
        assert review_sites(conn, NOW + timedelta(minutes=1), window) == []
        # One terminal's last will; the other still beats: not down.
        conn.execute(update(device).where(device.c.id == "dukcapil-1").values(online=False))
        assert review_sites(conn, NOW + timedelta(minutes=2), window) == []
        conn.execute(update(device).where(device.c.id == "dukcapil-2").values(online=False))
        assert review_sites(conn, NOW + timedelta(minutes=5), window) == []  # not long enough
        [opened] = review_sites(conn, NOW + timedelta(minutes=11), window)
        assert opened.opened and opened.site_id == st.id
        site = registry.get_site(conn, st.id)
        assert site.mobile_fallback_open
        assert review_sites(conn, NOW + timedelta(minutes=12), window) == []  # already open
        back = NOW + timedelta(minutes=40)
        conn.execute(
            update(device)
            .where(device.c.id == "dukcapil-2")
            .values(online=True, last_status_at=back)
        )
        [closed] = review_sites(conn, back, window)
        assert not closed.opened
        assert not registry.get_site(conn, st.id).mobile_fallback_open
        events = conn.execute(
            select(mobile_fallback_event.c.open, mobile_fallback_event.c.operator)
        ).all()
        assert [tuple(e) for e in events] == [(True, AUTOMATIC), (False, AUTOMATIC)]
    engine.dispose()


def test_fallback_never_closes_an_operators_switch(db_url: str) -> None:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        unit = registry.add_unit(conn, "BPBD", "BPBD", channel=registry.Channel.FINGERPRINT)
        st = registry.add_site(conn, unit_id=unit.id, name="Posko", lat=-10.1, lon=123.5)
        add_device(conn, "bpbd-1", NOW)
        registry.assign_device(conn, "bpbd-1", st.id)
        conn.execute(
            update(device).where(device.c.id == "bpbd-1").values(online=True, last_status_at=NOW)
        )
        registry.open_mobile_fallback(
            conn, st.id, reason="banjir (flood)", by="operator-bkppd", now=NOW
        )
        assert review_sites(conn, NOW + timedelta(minutes=1), timedelta(minutes=10)) == []
        assert registry.get_site(conn, st.id).mobile_fallback_open
    engine.dispose()
